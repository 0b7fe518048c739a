// Native block-format weights on the CUDA backend, each path against an independent reference:
//   gemvMatchesCpuReference: the GEMV over every block format (kernels/gemv_quant_*.cu) at 1-8 x
//     rows and odd shapes (odd block counts, odd row counts, three segments) against a double
//     product over the CPU dequantization (engine/gguf/dequant.cpp, ggml's dequantize_row_*).
//     Both of its paths: fp32 decode (gemv_int8_max_rows=0) against x as given, and the int8
//     path against x rounded to q8 blocks here (q8_blocks below, written from the rule the path
//     documents), so each is held to float rounding, not to a tolerance wide enough for int8.
//   fusedEndsMatchBf16Path: every fused end the decode path uses (norm prologue, GLU, residual
//     add, rope + KV store) with native weights, against the same ops on the same weights expanded
//     to bf16 (upload_weight under weight_storage::bf16), which test_gpu_fused checks against
//     its own references. On the fp32 path they differ by the bf16 rounding of the weights only;
//     the int8 path adds x's 8-bit rounding.
//   largeBatchAndEmbeddingMatchCpu: more rows than the GEMV takes (dequantize into the bf16
//     scratch, then cuBLASLt), and the embedding gather from a block table, against the CPU.
//   randomBlocksAreValid: synthetic blocks (kernels/random_fill.cu) decode to finite values in
//     about [-amp, amp], and differ between seeds.
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tuning.h"

#include <cstring>

namespace {

using rl_gpu_test::vec;

const rl::ggml_type kFormats[] = {rl::ggml_type::q8_0, rl::ggml_type::q4_0, rl::ggml_type::q4_1,
                                  rl::ggml_type::q5_0, rl::ggml_type::q5_1, rl::ggml_type::q4_k,
                                  rl::ggml_type::q5_k, rl::ggml_type::q6_k};

vec dequant_host(rl::ggml_type t, const std::vector<uint8_t>& raw, int64_t rows, int64_t cols) {
    vec w(size_t(rows * cols));
    const size_t rb = rl::ggml_row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r) rl::dequantize_row(t, raw.data() + size_t(r) * rb, w.data() + r * cols, cols);
    return w;
}

// A weight as a GGUF tensor over host bytes, so the backend's own upload makes it (native or bf16).
rl::gguf_tensor_info info_of(const std::string& name, rl::ggml_type t, const std::vector<uint8_t>& raw, int64_t rows,
                             int64_t cols) {
    rl::gguf_tensor_info i;
    i.name = name;
    i.type = t;
    i.dims = {cols, rows};
    i.data = raw.data();
    i.nbytes = raw.size();
    return i;
}

std::vector<double> xwt(const vec& x, const vec& w, int64_t n, int64_t m, int64_t k) {
    std::vector<double> out(size_t(n * m));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) {
            double s = 0;
            for (int64_t c = 0; c < k; ++c) s += double(x[size_t(i * k + c)]) * double(w[size_t(j * k + c)]);
            out[size_t(i * m + j)] = s;
        }
    return out;
}

// x as the int8 GEMV path sees it: each block of 32 scaled by d = amax / 127, rounded to the
// nearest integer (ties to even, as the device's cvt.rni), and scaled back.
vec q8_blocks(const vec& x) {
    vec out(x.size());
    for (size_t b = 0; b < x.size(); b += 32) {
        float amax = 0.f;
        for (size_t e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(x[b + e]));
        const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
        for (size_t e = 0; e < 32; ++e) out[b + e] = d * float(std::nearbyint(x[b + e] * id));
    }
    return out;
}

// The kernel table with the int8 GEMV path on (the default, 8 rows) or off, for one scope.
struct int8_path {
    explicit int8_path(bool on) {
        rl::kernels::kernel_tuning t;
        t.gemv_int8_max_rows = on ? 8 : 0;
        rl::kernels::set_tuning_for_test(t);
    }
    ~int8_path() { rl::kernels::set_tuning_for_test(rl::kernels::kernel_tuning{}); }
};

struct weight {
    std::vector<uint8_t> raw;
    rl::tensor native, wide;  // the same blocks kept natively, and expanded to bf16
};

weight make_weight(rl_gpu_test::gpu& g, rl::ggml_type t, int64_t rows, int64_t cols, std::mt19937& rng) {
    weight w;
    w.raw = rl_gpu_test::random_blocks(t, rows, cols, rng);
    const rl::gguf_tensor_info i = info_of("w", t, w.raw, rows, cols);
    g.owned.push_back(g.be->upload_weight(i, rl::weight_storage::native));
    w.native = g.owned.back();
    g.owned.push_back(g.be->upload_weight(i, rl::weight_storage::bf16));
    w.wide = g.owned.back();
    return w;
}

} // namespace

class TestGpuQuant : public QObject {
    Q_OBJECT
private slots:
    void gemvMatchesCpuReference() {
        GPU_OR_SKIP();
        for (bool int8 : {false, true}) {
        const int8_path path(int8);
        rl_gpu_test::gpu g;
        std::mt19937 rng(7);
        // k: 3 and 5 blocks of 256 (odd block counts; a whole number of every unit); m: odd row
        // counts, so warps with half a row pair and (three segments) segment ends mid-warp.
        struct shape { int64_t n, k; std::vector<int64_t> m; };
        // The last two: 8191 rows at one x row, more row groups than CTAs resident at once, so the
        // int8 path's CTAs loop over groups; 8 rows of k 5376, whose q8 x (53 KiB) needs the
        // shared-memory opt-in.
        const shape shapes[] = {{1, 768, {77}}, {2, 1280, {33, 17, 17}}, {3, 768, {45}}, {5, 1280, {31, 9}},
                                {8, 768, {50}}, {1, 2560, {301}}, {1, 512, {8191}}, {8, 5376, {40}}};
        for (rl::ggml_type t : kFormats)
            for (const shape& s : shapes) {
                const vec x = rl_gpu_test::randn(size_t(s.n * s.k), rng);
                const rl::tensor xd = g.put(x, s.n, s.k);
                std::vector<weight> ws;
                std::vector<const rl::tensor*> wp;
                std::vector<rl::tensor*> op;
                std::vector<rl::tensor> outs;
                outs.reserve(s.m.size());
                for (int64_t m : s.m) {
                    ws.push_back(make_weight(g, t, m, s.k, rng));
                    outs.push_back(g.poisoned(s.n, m, rl::dtype::f32));
                }
                for (size_t i = 0; i < s.m.size(); ++i) wp.push_back(&ws[i].native), op.push_back(&outs[i]);
                g.be->matmuls(xd, wp, op);
                for (size_t i = 0; i < s.m.size(); ++i) {
                    const vec w = dequant_host(t, ws[i].raw, s.m[i], s.k);
                    const double err = rl_gpu_test::rel_l2(g.get(outs[i]), xwt(int8 ? q8_blocks(x) : x, w, s.n, s.m[i], s.k));
                    const std::string what = rl::ggml_type_name(t) + " n" + std::to_string(s.n) + " k" +
                                             std::to_string(s.k) + " seg" + std::to_string(i);
                    QVERIFY2(err < 1e-5, rl_gpu_test::fmt(what + (int8 ? " int8" : " fp32"), err).c_str());
                }
            }
        }
    }

    void fusedEndsMatchBf16Path() {
        GPU_OR_SKIP();
        for (bool int8 : {false, true}) {
        // bf16 weights carry 8 mantissa bits: a relative error of 2^-9 per weight, averaging down.
        // The int8 path adds x in 8 bits per block of 32: a rounding error of amax / 254 (about
        // 0.01 of a Gaussian's deviation) per element, about 0.5% per product, in gate and up both.
        const double tol = int8 ? 2.5e-2 : 1e-2;
        const int8_path path(int8);
        std::mt19937 rng(11);
        for (rl::ggml_type t : {rl::ggml_type::q4_k, rl::ggml_type::q6_k, rl::ggml_type::q4_1, rl::ggml_type::q8_0}) {
            rl_gpu_test::gpu g;
            // ff 4352 on the int8 path: more gate/up row groups than resident CTAs (they loop).
            const int64_t d = 512, ff = int8 ? 4352 : 768, n = 1;
            const vec xf = rl_gpu_test::randn(size_t(n * d), rng);
            const vec nw = rl_gpu_test::randn(size_t(d), rng, 1.f);
            const rl::tensor x = g.put(xf, n, d, rl::dtype::f32), norm = g.put(nw, 1, d, rl::dtype::f32);
            const weight gate = make_weight(g, t, ff, d, rng), up = make_weight(g, t, ff, d, rng);
            const weight down = make_weight(g, t, d, ff, rng);
            auto run = [&](bool native) {
                auto pick = [&](const weight& w) -> const rl::tensor& { return native ? w.native : w.wide; };
                rl::tensor xn = g.poisoned(n, d), gt = g.poisoned(n, ff), ut = g.poisoned(n, ff), act = g.poisoned(n, ff);
                g.be->norm_gate_up_silu(x, norm, 1e-5f, xn, pick(gate), pick(up), gt, ut, act);
                rl::tensor res = g.put(xf, n, d, rl::dtype::f32), tmp = g.poisoned(n, d);
                g.be->matmul_add(act, pick(down), tmp, res);
                return std::make_pair(g.get(act), g.get(res));
            };
            const auto [act_n, res_n] = run(true);
            const auto [act_w, res_w] = run(false);
            const std::string name = rl::ggml_type_name(t) + (int8 ? " int8" : " fp32");
            const double e1 = rl_gpu_test::rel_l2(act_n, std::vector<double>(act_w.begin(), act_w.end()));
            const double e2 = rl_gpu_test::rel_l2(res_n, std::vector<double>(res_w.begin(), res_w.end()));
            QVERIFY2(e1 < tol, rl_gpu_test::fmt(name + " norm+glu", e1).c_str());
            QVERIFY2(e2 < tol, rl_gpu_test::fmt(name + " down+add", e2).c_str());
        }
        }
    }

    void largeBatchAndEmbeddingMatchCpu() {
        GPU_OR_SKIP();
        rl_gpu_test::gpu g;
        std::mt19937 rng(3);
        for (rl::ggml_type t : kFormats) {
            const int64_t n = 37, k = 512, m = 96;
            const vec x = rl_gpu_test::randn(size_t(n * k), rng);
            const rl::tensor xd = g.put(x, n, k);
            const weight w = make_weight(g, t, m, k, rng);
            rl::tensor out = g.poisoned(n, m, rl::dtype::f32);
            g.be->matmul(xd, w.native, out);
            const vec wh = dequant_host(t, w.raw, m, k);
            // The scratch holds the weights in bf16, so the reference rounds them too.
            vec wr(wh.size());
            for (size_t i = 0; i < wh.size(); ++i) wr[i] = rl_gpu_test::rb(wh[i]);
            const double err = rl_gpu_test::rel_l2(g.get(out), xwt(x, wr, n, m, k));
            QVERIFY2(err < 1e-4, rl_gpu_test::fmt(rl::ggml_type_name(t) + " 37 rows", err).c_str());

            // Embedding rows from the block table (f32 out: exactly the CPU's dequantized values).
            rl::step_input in;
            in.tokens = {5, 0, 95, 5, 42};
            for (int i = 0; i < 5; ++i) in.positions.push_back(i);
            in.seqs.push_back(rl::seq_slice{0, 5, 0, {0}});
            g.be->alloc_kv(rl::kv_cache_layout{1, 4, 16, 1, 64});
            g.be->set_step(in);
            rl::tensor e = g.poisoned(5, k, rl::dtype::f32);
            g.be->embed(w.native, e);
            const vec got = g.get(e);
            int64_t bad = 0;
            for (size_t r = 0; r < in.tokens.size(); ++r)
                for (int64_t c = 0; c < k; ++c)
                    if (got[r * size_t(k) + size_t(c)] != wh[size_t(in.tokens[r]) * size_t(k) + size_t(c)]) ++bad;
            QVERIFY2(bad == 0, (rl::ggml_type_name(t) + " embedding: " + std::to_string(bad) + " values differ").c_str());
        }
    }

    void randomBlocksAreValid() {
        GPU_OR_SKIP();
        rl_gpu_test::gpu g;
        for (rl::ggml_type t : kFormats) {
            const auto dt = rl::block_dtype(t);
            QVERIFY(dt.has_value());
            rl::tensor a = g.be->alloc(64, 512, *dt), b = g.be->alloc(64, 512, *dt);
            g.owned.push_back(a), g.owned.push_back(b);
            g.be->fill_random(a, 1, -0.5f, 0.5f);
            g.be->fill_random(b, 2, -0.5f, 0.5f);
            const vec va = g.get(a), vb = g.get(b);
            float lo = 0, hi = 0;
            bool finite = true;
            for (float v : va) finite = finite && std::isfinite(v), lo = std::min(lo, v), hi = std::max(hi, v);
            const std::string name = rl::ggml_type_name(t);
            QVERIFY2(finite, (name + ": non-finite values").c_str());
            QVERIFY2(lo >= -0.6f && hi <= 0.6f && hi - lo > 0.3f,
                     (name + ": values span [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
            QVERIFY2(va != vb, (name + ": two seeds gave the same blocks").c_str());
        }
    }
};

RL_TEST_MAIN(TestGpuQuant, gemvMatchesCpuReference, fusedEndsMatchBf16Path, largeBatchAndEmbeddingMatchCpu,
             randomBlocksAreValid)
#include "test_gpu_quant.moc"
