// GPU kernels (kernels/*.cu, gemm.cpp) through the CUDA backend's ops, each against a CPU
// reference in double computed from the same bf16-rounded inputs. Fresh random inputs per case,
// outputs poisoned (NaN) before every run, so an unwritten element fails.
// Tolerances (relative L2, ||out - ref|| / ||ref||):
//   copies (embed, gather, kv round trip): exact;
//   bf16 elementwise / norm / rope / silu: < 1e-2 (one bf16 rounding of the output is ~2e-3);
//   GEMM (bf16 operands, fp32 accumulation, bf16 out): < 1e-2;
//   attention (fp32 math over bf16 q, K, V; bf16 out): < 1e-2.
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "common/engine_error.h"

#include <cuda_runtime.h>

#include <numeric>

namespace {

using namespace rl_gpu_test;

// --- paged attention harness ----------------------------------------------------------------

struct attn_case {
    int n_heads, n_kv_heads, head_dim, block_size;
};

// Keeps every sequence's K/V history on the host (bf16-exact floats) next to the GPU pool.
class attn_harness {
public:
    attn_harness(gpu& g, attn_case c, int n_seqs, int max_len, std::mt19937& rng) : g_(g), c_(c), rng_(rng) {
        const int per_seq = (max_len + c.block_size - 1) / c.block_size;
        const int num_blocks = per_seq * n_seqs + 5;  // a few never used
        std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
        std::iota(ids.begin(), ids.end(), 0);
        std::shuffle(ids.begin(), ids.end(), rng);  // shuffled block tables
        tables_.resize(size_t(n_seqs));
        for (int s = 0; s < n_seqs; ++s)
            tables_[size_t(s)].assign(ids.begin() + s * per_seq, ids.begin() + (s + 1) * per_seq);
        len_.assign(size_t(n_seqs), 0);
        k_hist_.resize(size_t(n_seqs));
        v_hist_.resize(size_t(n_seqs));
        g_.be->alloc_kv(rl::kv_cache_layout{2, num_blocks, c.block_size, c.n_kv_heads, c.head_dim});
    }

    // One step: chunks[i] = (sequence, new tokens). Returns the relative L2 error of the output.
    double step(const std::vector<std::pair<int, int>>& chunks) {
        rl::step_input in;
        int n = 0;
        for (auto [s, t] : chunks) {
            in.seqs.push_back(rl::seq_slice{n, t, len_[size_t(s)], tables_[size_t(s)]});
            for (int i = 0; i < t; ++i) {
                in.tokens.push_back(0);
                in.positions.push_back(len_[size_t(s)] + i);
            }
            n += t;
        }
        const int qw = c_.n_heads * c_.head_dim, kw = c_.n_kv_heads * c_.head_dim;
        const vec q = randn(size_t(n) * qw, rng_), k = randn(size_t(n) * kw, rng_), v = randn(size_t(n) * kw, rng_);
        g_.be->set_step(in);
        rl::tensor tq = g_.put(q, n, qw), tk = g_.put(k, n, kw), tv = g_.put(v, n, kw), to = g_.poisoned(n, qw);
        const float scale = 1.f / std::sqrt(float(c_.head_dim));
        g_.be->kv_store(1, tk, tv);  // layer 1: the per-layer offset into the pool is exercised
        g_.be->attention(1, tq, to, c_.n_heads, c_.n_kv_heads, c_.head_dim, scale);
        const vec out = g_.get(to);

        int row = 0;
        for (auto [s, t] : chunks)
            for (int i = 0; i < t; ++i, ++row) {
                k_hist_[size_t(s)].insert(k_hist_[size_t(s)].end(), k.begin() + row * kw, k.begin() + (row + 1) * kw);
                v_hist_[size_t(s)].insert(v_hist_[size_t(s)].end(), v.begin() + row * kw, v.begin() + (row + 1) * kw);
            }
        std::vector<double> ref(out.size());
        row = 0;
        const int group = c_.n_heads / c_.n_kv_heads, D = c_.head_dim;
        for (auto [s, t] : chunks) {
            for (int i = 0; i < t; ++i, ++row) {
                const int ctx = len_[size_t(s)] + i + 1;
                for (int h = 0; h < c_.n_heads; ++h) {
                    const int g = h / group;
                    std::vector<double> sc(static_cast<size_t>(ctx));
                    double mx = -1e300;
                    for (int j = 0; j < ctx; ++j) {
                        double d = 0;
                        for (int e = 0; e < D; ++e)
                            d += double(q[size_t(row) * qw + h * D + e]) * k_hist_[size_t(s)][size_t(j) * kw + g * D + e];
                        sc[size_t(j)] = d * scale;
                        mx = std::max(mx, sc[size_t(j)]);
                    }
                    double sum = 0;
                    for (auto& x : sc) sum += (x = std::exp(x - mx));
                    for (int e = 0; e < D; ++e) {
                        double o = 0;
                        for (int j = 0; j < ctx; ++j) o += sc[size_t(j)] * v_hist_[size_t(s)][size_t(j) * kw + g * D + e];
                        ref[size_t(row) * qw + h * D + e] = o / sum;
                    }
                }
            }
            len_[size_t(s)] += t;
        }
        for (auto* t : {&tq, &tk, &tv, &to}) {
            auto it = std::find_if(g_.owned.begin(), g_.owned.end(), [&](const rl::tensor& o) { return o.data == t->data; });
            g_.be->release(*it);
            g_.owned.erase(it);
        }
        return rel_l2(out, ref);
    }

private:
    gpu& g_;
    attn_case c_;
    std::mt19937& rng_;
    std::vector<std::vector<int32_t>> tables_;
    std::vector<int> len_;
    std::vector<vec> k_hist_, v_hist_;
};

} // namespace

class TestGpuKernels : public QObject {
    Q_OBJECT
private slots:
    void deviceInfo() {
        GPU_OR_SKIP();
        gpu g;
        const rl::device_info d = g.be->info();
        QVERIFY(d.kind == "cuda");
        QVERIFY(!d.name.empty());
        QVERIFY(d.compute_units > 0);
        QVERIFY(d.total_memory >= d.free_memory && d.free_memory > 0);
        QCOMPARE(int(g.be->compute_dtype()), int(rl::dtype::bf16));
    }

    void uploadDownloadRoundTrip() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(1);
        for (auto t : {rl::dtype::f32, rl::dtype::f16, rl::dtype::bf16}) {
            vec v = randn(999, rng);
            for (auto& x : v) x = t == rl::dtype::f16 ? rl::fp16_to_fp32(rl::fp32_to_fp16(x)) : x;
            const vec back = g.get(g.put(v, 27, 37, t));
            QVERIFY(back == v);
        }
        // Device-side conversions against the host's round-to-nearest-even.
        const vec src = randn(4097, rng, 3.f);
        float* d32 = nullptr;
        uint16_t* d16 = nullptr;
        QVERIFY(cudaMalloc(&d32, src.size() * 4) == cudaSuccess);
        QVERIFY(cudaMalloc(&d16, src.size() * 2) == cudaSuccess);
        std::vector<float> raw(src.size());
        std::normal_distribution<float> nd(0.f, 3.f);
        for (auto& x : raw) x = nd(rng);  // not bf16-exact: rounding is exercised
        cudaMemcpy(d32, raw.data(), raw.size() * 4, cudaMemcpyHostToDevice);
        rl::kernels::f32_to_bf16(d32, d16, int64_t(raw.size()), nullptr);
        cudaMemset(d32, 0xFF, raw.size() * 4);
        rl::kernels::bf16_to_f32(d16, d32, int64_t(raw.size()), nullptr);
        std::vector<uint16_t> h16(raw.size());
        std::vector<float> h32(raw.size());
        cudaMemcpy(h16.data(), d16, raw.size() * 2, cudaMemcpyDeviceToHost);
        cudaMemcpy(h32.data(), d32, raw.size() * 4, cudaMemcpyDeviceToHost);
        QVERIFY(cudaGetLastError() == cudaSuccess);
        cudaFree(d32);
        cudaFree(d16);
        for (size_t i = 0; i < raw.size(); ++i) {
            QCOMPARE(h16[i], rl::fp32_to_bf16(raw[i]));
            QCOMPARE(h32[i], rl::bf16_to_fp32(h16[i]));
        }
    }

    void embedAndGatherRows() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(2);
        for (int64_t d : {576, 100}) {  // 16-byte path and scalar path
            const int64_t V = 1000;
            const vec table = randn(size_t(V * d), rng);
            std::vector<int32_t> tok(13);
            for (auto& t : tok) t = int32_t(rng() % V);
            rl::step_input in = one_seq_step(tok, 0);
            in.logit_rows = {12, 0, 5, 5};
            g.be->set_step(in);
            rl::tensor tt = g.put(table, V, d), out = g.poisoned(13, d), gathered = g.poisoned(4, d);
            g.be->embed(tt, out);
            g.be->gather_logit_rows(out, gathered);
            const vec o = g.get(out), gr = g.get(gathered);
            for (int i = 0; i < 13; ++i)
                for (int64_t c = 0; c < d; ++c) QCOMPARE(o[size_t(i * d + c)], table[size_t(tok[size_t(i)] * d + c)]);
            for (int i = 0; i < 4; ++i)
                for (int64_t c = 0; c < d; ++c) QCOMPARE(gr[size_t(i * d + c)], o[size_t(in.logit_rows[size_t(i)] * d + c)]);
        }
    }

    void rmsNorm() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(3);
        for (int64_t d : {576, 100})
            for (auto wt : {rl::dtype::bf16, rl::dtype::f32}) {
                const int64_t n = 9;
                const vec x = randn(size_t(n * d), rng, 2.f), w = randn(size_t(d), rng);
                rl::tensor tx = g.put(x, n, d), tw = g.put(w, 1, d, wt), to = g.poisoned(n, d);
                g.be->rms_norm(tx, tw, 1e-5f, to);
                const vec o = g.get(to);
                std::vector<double> ref(o.size());
                for (int64_t r = 0; r < n; ++r) {
                    double ss = 0;
                    for (int64_t c = 0; c < d; ++c) ss += double(x[size_t(r * d + c)]) * x[size_t(r * d + c)];
                    const double s = 1.0 / std::sqrt(ss / double(d) + 1e-5);
                    for (int64_t c = 0; c < d; ++c) ref[size_t(r * d + c)] = x[size_t(r * d + c)] * s * w[size_t(c)];
                }
                const double e = rel_l2(o, ref);
                CHECK_REL("rms_norm", e);
            }
    }

    void fusedAddRmsNorm() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(4);
        const int64_t n = 5, d = 576;
        const vec x = randn(size_t(n * d), rng), y = randn(size_t(n * d), rng), w = randn(size_t(d), rng);
        rl::tensor tx = g.put(x, n, d), ty = g.put(y, n, d), tw = g.put(w, 1, d), to = g.poisoned(n, d);
        rl::kernels::add_rms_norm_bf16(static_cast<uint16_t*>(tx.data), static_cast<const uint16_t*>(ty.data), tw.data,
                                       true, 1e-5f, static_cast<uint16_t*>(to.data), n, d, nullptr);
        // The launch went to the legacy default stream; the backend's stream is non-blocking and
        // would not wait for it before downloading.
        QVERIFY(cudaDeviceSynchronize() == cudaSuccess);
        const vec xs = g.get(tx), o = g.get(to);
        std::vector<double> ref(o.size());
        for (int64_t r = 0; r < n; ++r) {
            double ss = 0;
            for (int64_t c = 0; c < d; ++c) {
                const size_t i = size_t(r * d + c);
                QCOMPARE(xs[i], rb(x[i] + y[i]));  // the residual keeps the bf16 sum
                ss += double(xs[i]) * xs[i];
            }
            const double s = 1.0 / std::sqrt(ss / double(d) + 1e-5);
            for (int64_t c = 0; c < d; ++c) ref[size_t(r * d + c)] = xs[size_t(r * d + c)] * s * w[size_t(c)];
        }
        const double e = rel_l2(o, ref);
        CHECK_REL("add_rms_norm", e);
    }

    void addBiasSiluMul() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(5);
        for (int64_t m : {1536, 75}) {
            const int64_t n = 7;
            const vec x = randn(size_t(n * m), rng), y = randn(size_t(n * m), rng), b = randn(size_t(m), rng);
            rl::tensor tx = g.put(x, n, m), ty = g.put(y, n, m), tb = g.put(b, 1, m), to = g.poisoned(n, m);
            g.be->add(tx, ty);
            g.be->add_bias(tx, tb);
            g.be->silu_mul(tx, ty, to);
            const vec s = g.get(tx), o = g.get(to);
            std::vector<double> ref_s(s.size()), ref_o(o.size());
            for (size_t i = 0; i < s.size(); ++i) {
                ref_s[i] = double(x[i]) + y[i] + b[i % size_t(m)];
                const double gt = s[i];  // silu_mul's input is the stored bf16 sum
                ref_o[i] = gt / (1.0 + std::exp(-gt)) * y[i];
            }
            CHECK_REL("add + add_bias", rel_l2(s, ref_s));
            CHECK_REL("silu_mul", rel_l2(o, ref_o));
        }
    }

    void rope() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(6);
        struct rc { int n_heads, head_dim, rope_dim; bool neox; };
        for (rc c : {rc{9, 64, 64, false}, rc{9, 64, 64, true}, rc{4, 128, 64, true}, rc{4, 128, 96, false}}) {
            const int n = 11, w = c.n_heads * c.head_dim;
            std::vector<float> inv(static_cast<size_t>(c.rope_dim / 2));
            for (int i = 0; i < c.rope_dim / 2; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * i / c.rope_dim));
            const vec x = randn(size_t(n * w), rng);
            g.be->set_step(one_seq_step(std::vector<int32_t>(size_t(n), 0), 4990));  // large angles
            rl::tensor tx = g.put(x, n, w);
            g.be->rope(tx, rl::rope_params{c.n_heads, c.head_dim, c.rope_dim, c.neox, &inv});
            const vec o = g.get(tx);
            std::vector<double> ref(x.begin(), x.end());
            const int half = c.rope_dim / 2;
            for (int r = 0; r < n; ++r)
                for (int h = 0; h < c.n_heads; ++h)
                    for (int i = 0; i < half; ++i) {
                        const double th = double(4990 + r) * double(inv[size_t(i)]);
                        const size_t b = size_t(r * w + h * c.head_dim);
                        const size_t i0 = b + size_t(c.neox ? i : 2 * i), i1 = b + size_t(c.neox ? i + half : 2 * i + 1);
                        ref[i0] = x[i0] * std::cos(th) - x[i1] * std::sin(th);
                        ref[i1] = x[i0] * std::sin(th) + x[i1] * std::cos(th);
                    }
            const double e = rel_l2(o, ref);
            CHECK_REL(c.neox ? "rope neox" : "rope", e);
        }
    }

    void matmulMatchesCpu() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(7);
        struct mc { int64_t n, m, k; };
        for (mc c : {mc{1, 576, 576}, mc{20, 1536, 576}, mc{3, 49152, 576}, mc{33, 192, 1536}, mc{5, 129, 72},
                     mc{64, 576, 1536},
                     // Row counts that share a bucket's algorithm (gemm.cpp), met in turn: the
                     // plan's layouts must follow the count, never the bucket's top.
                     mc{100, 576, 576}, mc{97, 576, 576}, mc{128, 576, 576}, mc{99, 576, 576}, mc{600, 192, 576},
                     mc{513, 192, 576}, mc{640, 192, 576}}) {
            const vec x = randn(size_t(c.n * c.k), rng), w = randn(size_t(c.m * c.k), rng, 0.05f);
            rl::tensor tx = g.put(x, c.n, c.k), tw = g.put(w, c.m, c.k), to = g.poisoned(c.n, c.m);
            g.be->matmul(tx, tw, to);
            const vec o = g.get(to);
            std::vector<double> ref(o.size());
            for (int64_t i = 0; i < c.n; ++i)
                for (int64_t j = 0; j < c.m; ++j) {
                    double s = 0;
                    for (int64_t t = 0; t < c.k; ++t) s += double(x[size_t(i * c.k + t)]) * w[size_t(j * c.k + t)];
                    ref[size_t(i * c.m + j)] = s;
                }
            const double e = rel_l2(o, ref);
            CHECK_REL("matmul " + std::to_string(c.n) + "x" + std::to_string(c.m) + "x" +
                                    std::to_string(c.k), e);
        }
    }

    // GQA 9:3 (SmolLM2), head_dim 64, block 16: mixed prefill of three lengths, decodes, a chunk
    // continuing a cached context next to decodes.
    void attentionGqa9x3() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(8);
        attn_harness h(g, attn_case{9, 3, 64, 16}, 3, 200, rng);
        for (const auto& st : std::vector<std::vector<std::pair<int, int>>>{
                 {{0, 37}, {1, 5}, {2, 70}}, {{0, 1}, {1, 1}, {2, 1}}, {{0, 1}, {1, 40}, {2, 1}}, {{2, 1}, {0, 1}, {1, 1}}}) {
            const double e = h.step(st);
            CHECK_REL("attention 9:3", e);
        }
    }

    // Decode attention without split-K (100 rows x 3 kv heads fill the SMs: n_split 1) and with
    // it (2 rows: up to 16 slices, most of them empty for short contexts).
    void attentionSplitAndUnsplit() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(11);
        const int n_seqs = 100;
        QCOMPARE(rl::kernels::attention_decode_splits(n_seqs, 9, 3, 132), 1);
        QVERIFY(rl::kernels::attention_decode_splits(2, 9, 3, 132) > 1);
        attn_harness h(g, attn_case{9, 3, 64, 16}, n_seqs, 80, rng);
        std::vector<std::pair<int, int>> prefill, decode;
        for (int s = 0; s < n_seqs; ++s) {
            prefill.push_back({s, 1 + (s * 7) % 60});
            decode.push_back({s, 1});
        }
        CHECK_REL("attention prefill x100", h.step(prefill));
        CHECK_REL("attention decode x100", h.step(decode));
        CHECK_REL("attention decode x2", h.step({{3, 1}, {97, 1}}));
    }

    // Long decode contexts at batch 1 and 3: the kernel sizes its slices from each context (at
    // 9:3, 3,001 keys use all 16 slices of 6 tiles, 513 keys 5 slices of 4 tiles, 20 keys one
    // slice written without a merge; at 32:8, 1,101 keys use 9 slices of 4 tiles).
    void attentionLongSplits() {
        GPU_OR_SKIP();
        std::mt19937 rng(12);
        struct lc { attn_case c; int chunk, n_chunks; };
        for (lc t : {lc{attn_case{9, 3, 64, 16}, 1500, 2}, lc{attn_case{32, 8, 128, 16}, 550, 2}}) {
            gpu g;
            attn_harness h(g, t.c, 3, t.chunk * t.n_chunks + 8, rng);
            const std::string name = "attention long h" + std::to_string(t.c.n_heads) + " ";
            CHECK_REL(name + "prefill", h.step({{0, t.chunk}, {1, 512}, {2, 19}}));
            for (int i = 1; i < t.n_chunks; ++i) CHECK_REL(name + "chunk", h.step({{0, t.chunk}}));
            for (int i = 0; i < 2; ++i) CHECK_REL(name + "decode x3", h.step({{0, 1}, {1, 1}, {2, 1}}));
            CHECK_REL(name + "decode x1", h.step({{0, 1}}));
            CHECK_REL(name + "decode x1 short", h.step({{2, 1}}));
        }
    }

    // Split-K decode attention merging its slices through the global workspace (merge_if_last):
    // the path of GPUs or binaries without thread-block clusters. Hopper takes the cluster merge,
    // so the fallback is forced here, over the split cases above (1, 5, 9 and 16 slices).
    void attentionGlobalMerge() {
        GPU_OR_SKIP();
        scoped_fallbacks forced(rl::kernels::forced_fallbacks{.attention_global_merge = true});
        attentionSplitAndUnsplit();
        if (test_failed()) return;
        attentionLongSplits();
    }

    // GQA 32:8, head_dim 128: a long prompt (decode contexts past 4 warps x 32 keys), continued chunks.
    void attentionGqa32x8() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(9);
        attn_harness h(g, attn_case{32, 8, 128, 16}, 2, 400, rng);
        for (const auto& st : std::vector<std::vector<std::pair<int, int>>>{
                 {{0, 300}, {1, 33}}, {{0, 1}, {1, 1}}, {{1, 50}, {0, 1}}, {{0, 1}, {1, 1}}}) {
            const double e = h.step(st);
            CHECK_REL("attention 32:8", e);
        }
    }

    // Other shapes the kernels dispatch on: group 8 with head_dim 256, group 1 with head_dim 96.
    void attentionOtherShapes() {
        GPU_OR_SKIP();
        std::mt19937 rng(10);
        // Qwen2.5's 28:4 too; the single-row decode steps take one query head per CTA.
        for (attn_case c : {attn_case{16, 2, 256, 8}, attn_case{4, 4, 96, 32}, attn_case{28, 4, 128, 16}}) {
            gpu g;
            attn_harness h(g, c, 2, 120, rng);
            for (const auto& st : std::vector<std::vector<std::pair<int, int>>>{
                     {{0, 45}, {1, 2}}, {{0, 1}, {1, 1}}, {{1, 33}}, {{0, 1}}, {{1, 1}}}) {
                const double e = h.step(st);
                CHECK_REL("attention h" + std::to_string(c.n_heads) + " d" + std::to_string(c.head_dim), e);
            }
        }
    }

    void rejectsBadInput() {
        GPU_OR_SKIP();
        gpu g;
        auto throws = [](auto&& f) {
            try {
                f();
            } catch (const rl::engine_error&) { return true; }
            return false;
        };
        // A pool far larger than any GPU: the message names the sizes.
        bool named = false;
        try {
            g.be->alloc_kv(rl::kv_cache_layout{64, 1 << 22, 16, 8, 128});
        } catch (const rl::engine_error& e) {
            named = std::string(e.what()).find("does not fit in free GPU memory") != std::string::npos;
        }
        QVERIFY(named);
        g.be->alloc_kv(rl::kv_cache_layout{1, 4, 16, 3, 64});
        rl::step_input in = one_seq_step({1, 2, 3}, 0);
        in.seqs[0].block_table = {7};  // outside the 4-block pool
        g.be->set_step(in);
        rl::tensor k = g.poisoned(3, 192), q = g.poisoned(3, 576), o = g.poisoned(3, 576);
        QVERIFY(throws([&] { g.be->kv_store(0, k, k); }));
        QVERIFY(throws([&] { g.be->attention(0, q, o, 9, 3, 64, 0.125f); }));
        rl::tensor f32 = g.put(vec(3 * 576, 1.f), 3, 576, rl::dtype::f32);
        QVERIFY(throws([&] { g.be->add(q, f32); }));  // the addend must be bf16 (x may be f32: the residual)
        QVERIFY(throws([&] { g.be->matmul(f32, q, o); }));  // matmul operands must be bf16
        QVERIFY(throws([&] { g.be->set_step(rl::step_input{}); }));
    }
};

RL_TEST_MAIN(TestGpuKernels, deviceInfo, uploadDownloadRoundTrip, embedAndGatherRows, rmsNorm, fusedAddRmsNorm,
             addBiasSiluMul, rope, matmulMatchesCpu, attentionGqa9x3, attentionSplitAndUnsplit, attentionLongSplits,
             attentionGlobalMerge, attentionGqa32x8,
             attentionOtherShapes, rejectsBadInput)
#include "test_gpu_kernels.moc"
