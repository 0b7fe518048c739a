// The fused decode paths of the CUDA backend against references:
//  - gemv.cu (one launch over up to three weight matrices sharing x; GLU mode writing only
//    silu(gate) * up) for every row count it takes (1..8), bf16 and f32 out, against a double
//    CPU product of the same bf16 inputs (tolerance as for any GEMM: rel L2 < 1e-2);
//  - the backend's matmuls / gate_up_silu at decode batches (gemv) and at a batch that takes
//    cuBLASLt (the unfused path);
//  - the residual ends (norm_matmuls, norm_gate_up_silu, matmul_add: RMSNorm in the GEMV's
//    prologue, the residual add in its epilogue) against a double CPU reference, at the row
//    counts that fuse (1, 2) and one that composes the unfused ops (3);
//  - rope_kv_store against rope, rope and kv_store: q and the attention over the stored K/V must
//    be bit-identical (same arithmetic, one launch instead of three);
//  - norm_qkv_rope_kv_store (rope and the store in the q/k/v GEMV's epilogue) against
//    norm_matmuls then rope_kv_store: bit-identical q and pools again, at 1 and 2 rows;
//  - the GEMV's k-split layouts at 1-2 rows (kernels/tuning.h): the above under each of them;
//  - what RIDGELINE_TUNING accepts and refuses (host code: runs without a GPU).
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "common/engine_error.h"
#include "tuning.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>

namespace {

using namespace rl_gpu_test;

// out[i, j] = sum_t x[i, t] * w[j, t] in double.
std::vector<double> ref_product(const vec& x, const vec& w, int64_t n, int64_t m, int64_t k) {
    std::vector<double> ref(size_t(n * m));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) {
            double s = 0;
            for (int64_t t = 0; t < k; ++t) s += double(x[size_t(i * k + t)]) * w[size_t(j * k + t)];
            ref[size_t(i * m + j)] = s;
        }
    return ref;
}

// silu(gate) * up from the bf16-rounded gate and up, as the unfused ops compute it.
std::vector<double> ref_glu(const std::vector<double>& gate, const std::vector<double>& up) {
    std::vector<double> r(gate.size());
    for (size_t i = 0; i < r.size(); ++i) {
        const double g = rb(float(gate[i])), u = rb(float(up[i]));
        r[i] = g / (1.0 + std::exp(-g)) * u;
    }
    return r;
}

// Attention over pool layer 0 with q0 and over layer 1 with q1 must agree bit for bit (and be
// finite): the check that two ways of storing this step's K/V left identical pools (alloc_kv
// zeroes the pool, so the layers differ only where the step stored K and V).
void expect_same_pools(gpu& g, const rl::tensor& q0, const rl::tensor& q1, int n_heads, int n_kv, int head_dim,
                       const std::string& tag) {
    const int64_t n = q0.rows, qw = int64_t(n_heads) * head_dim;
    rl::tensor o0 = g.poisoned(n, qw), o1 = g.poisoned(n, qw);
    const float scale = 1.f / std::sqrt(float(head_dim));
    g.be->attention(0, q0, o0, n_heads, n_kv, head_dim, scale);
    g.be->attention(1, q1, o1, n_heads, n_kv, head_dim, scale);
    const vec a = g.get(o0), b = g.get(o1);
    bool finite = true;
    for (float f : a) finite = finite && std::isfinite(f);
    QVERIFY2(finite, ("attention over the fused store is not finite, " + tag).c_str());
    QVERIFY2(a == b, ("fused and unfused KV differ, " + tag).c_str());
}

// gemv_bf16 at 1..n_max rows over shapes that take every dispatch (short and long k, every
// segment count, bf16 and f32 out, GLU) against the double reference.
void check_gemv_rows(int64_t n_max) {
    gpu g;
    std::mt19937 rng(21);
    struct shape { int64_t k; std::vector<int64_t> ms; bool out_f32; bool glu; };
    const std::vector<shape> shapes = {
        {576, {576, 192, 192}, false, false},  // SmolLM2 q, k, v
        {576, {1536, 1536}, false, false},     // gate, up
        {576, {1536, 1536}, false, true},      // gate, up -> silu(gate) * up
        {576, {3001}, true, false},            // an LM head (odd rows) with f32 logits
        {72, {129, 7}, false, false},          // k shorter than one warp's chunk
        {2056, {96, 40, 33}, true, false},     // k not a multiple of 256
        {2056, {97, 97}, false, true},         // GLU with a partial last block
    };
    for (int64_t n = 1; n <= n_max; ++n)
        for (const shape& s : shapes) {
            const vec x = randn(size_t(n * s.k), rng);
            rl::tensor tx = g.put(x, n, s.k);
            std::vector<vec> ws;
            std::vector<rl::tensor> outs;
            std::vector<rl::kernels::gemv_segment> segs;
            for (int64_t m : s.ms) {
                ws.push_back(randn(size_t(m * s.k), rng, 0.05f));
                rl::tensor tw = g.put(ws.back(), m, s.k);
                outs.push_back(g.poisoned(n, m, s.out_f32 ? rl::dtype::f32 : rl::dtype::bf16));
                segs.push_back({static_cast<const uint16_t*>(tw.data), outs.back().data, m});
            }
            rl::tensor act = g.poisoned(n, s.ms[0]);
            const auto* xp = static_cast<const uint16_t*>(tx.data);
            auto* glu_out = s.glu ? static_cast<uint16_t*>(act.data) : nullptr;
            QVERIFY(rl::kernels::gemv_bf16_supported(xp, segs.data(), int(segs.size()), n, s.k, s.glu));
            rl::kernels::gemv_bf16(xp, segs.data(), int(segs.size()), n, s.k, s.out_f32, nullptr, glu_out);
            QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
            const std::string tag = "gemv n" + std::to_string(n) + " k" + std::to_string(s.k) + " m";
            if (s.glu) {
                const auto ref = ref_glu(ref_product(x, ws[0], n, s.ms[0], s.k), ref_product(x, ws[1], n, s.ms[1], s.k));
                CHECK_REL(tag + std::to_string(s.ms[0]) + " glu", rel_l2(g.get(act), ref));
                continue;
            }
            for (size_t i = 0; i < segs.size(); ++i)
                CHECK_REL(tag + std::to_string(s.ms[i]), rel_l2(g.get(outs[i]), ref_product(x, ws[i], n, s.ms[i], s.k)));
        }
}

} // namespace

class TestGpuFused : public QObject {
    Q_OBJECT
private slots:
    void gemvEveryRowCount() {
        GPU_OR_SKIP();
        check_gemv_rows(rl::kernels::gemv_max_rows);
    }

    // Every k-split layout of the GEMV at 1-2 rows (kernel_tuning::gemv_k_split: 1, 2 or 4 warps
    // per row pair in 4- or 8-warp CTAs), and the default table, under every end: the products
    // and the residual ends and the rope + KV store end again, with gemv_deep_k = 0 so that the
    // tests' short rows take the split path too (by default only k > 2048 does).
    void gemvEverySplitLayout() {
        GPU_OR_SKIP();
        const rl::kernels::gemv_split layouts[] = {{1, 4}, {2, 4}, {4, 4}, {1, 8}, {2, 8}, {4, 8}, {0, 0}};
        for (const rl::kernels::gemv_split& l : layouts) {
            rl::kernels::kernel_tuning t;  // the defaults
            t.gemv_deep_k = 0;
            if (l.cta_warps) {
                for (auto& row : t.gemv_k_split)
                    for (auto& e : row) e = l;
                std::printf("  layout %dx%d\n", l.warps_per_row_pair, l.cta_warps);
            } else {
                std::printf("  layout: the default table\n");
            }
            scoped_tuning tuned(t);
            check_gemv_rows(2);
            if (test_failed()) return;
            backendResidualEnds();
            if (test_failed()) return;
            normQkvRopeStoreEqualsUnfused();
            if (test_failed()) return;
        }
    }

    // The tuning table's overrides (kernels/tuning.h): what RIDGELINE_TUNING accepts, and that a
    // malformed one is refused with a message naming the key. Pure host code: runs without a GPU.
    void tuningOverrides() {
        using rl::kernels::parse_tuning;
        const rl::kernels::kernel_tuning d = parse_tuning("");
        QCOMPARE(rl::kernels::describe_tuning(d), std::string());
        // The defaults: the k-split layout the GEMV used before the table ("2ba14ba1").
        const int want[2][4][2] = {{{2, 4}, {2, 8}, {1, 8}, {1, 4}}, {{4, 4}, {2, 8}, {1, 8}, {1, 4}}};
        for (int r = 0; r < 2; ++r)
            for (int e = 0; e < rl::kernels::gemv_n_ends; ++e) {
                QCOMPARE(d.gemv_k_split[r][e].warps_per_row_pair, want[r][e][0]);
                QCOMPARE(d.gemv_k_split[r][e].cta_warps, want[r][e][1]);
            }
        QVERIFY(d.cuda_graphs && d.pdl);
        QCOMPARE(d.gemv_max_rows, 4);
        QCOMPARE(d.gemv_deep_k, 2048);
        QCOMPARE(d.attn_max_splits, rl::kernels::attention_decode_max_splits);
        const rl::kernels::kernel_tuning t =
            parse_tuning(" gemv_max_rows=0, cuda_graphs=0,gemv_split=1x4,gemv_b2_glu=4x8,attn_max_splits=8,");
        QVERIFY(!t.cuda_graphs && t.pdl);
        QCOMPARE(t.gemv_max_rows, 0);
        QCOMPARE(t.gemv_k_split[0][0].warps_per_row_pair, 1);
        QCOMPARE(t.gemv_k_split[1][1].warps_per_row_pair, 4);
        QCOMPARE(t.gemv_k_split[1][1].cta_warps, 8);
        QCOMPARE(t.attn_max_splits, 8);
        QCOMPARE(rl::kernels::describe_tuning(parse_tuning(rl::kernels::describe_tuning(t))),
                 rl::kernels::describe_tuning(t));
        const std::pair<const char*, const char*> bad[] = {
            {"gemv_max_rows=9", "gemv_max_rows"}, {"pdl=yes", "pdl"},          {"nonsense=1", "nonsense"},
            {"attn_max_splits", "attn_max_splits"}, {"gemv_b1_add=3x8", "gemv_b1_add"}, {"gemv_deep_k=-1", "gemv_deep_k"},
            {"attn_max_heads_per_cta=0", "attn_max_heads_per_cta"}};
        for (auto [spec, key] : bad) {
            std::string msg;
            try {
                parse_tuning(spec);
            } catch (const rl::engine_error& e) {
                msg = e.what();
            }
            QVERIFY2(msg.find("RIDGELINE_TUNING") != std::string::npos && msg.find(key) != std::string::npos,
                     (std::string(spec) + " -> '" + msg + "'").c_str());
        }
    }

    void gemvRefusesWhatItCannotDo() {
        GPU_OR_SKIP();
        gpu g;
        rl::tensor x = g.poisoned(9, 64), w = g.poisoned(8, 64), o = g.poisoned(9, 8);
        const auto* xp = static_cast<const uint16_t*>(x.data);
        rl::kernels::gemv_segment seg{static_cast<const uint16_t*>(w.data), o.data, 8};
        const rl::kernels::gemv_segment two[] = {seg, {seg.w, o.data, 7}};
        QVERIFY(rl::kernels::gemv_bf16_supported(xp, &seg, 1, 2, 64));
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp, &seg, 1, 9, 64));      // n > 8
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp, &seg, 1, 2, 60));      // k % 8
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp + 1, &seg, 1, 2, 64));  // misaligned x
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp, &seg, 0, 2, 64));      // no segment
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp, &seg, 1, 2, 64, true)); // GLU needs two segments
        QVERIFY(!rl::kernels::gemv_bf16_supported(xp, two, 2, 2, 64, true));  // ... of equal rows
        bool threw = false;
        try {
            rl::kernels::gemv_bf16(xp, &seg, 1, 9, 64, false, nullptr);
        } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("gemv_bf16") != std::string::npos;
        }
        QVERIFY(threw);
    }

    // Through the backend: decode-sized batches (gemv) and a prefill-sized one (cuBLASLt).
    void backendFusedProducts() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(22);
        for (int64_t n : {1, 3, 20}) {
            const int64_t d = 576, ff = 1536, kv = 192;
            const vec x = randn(size_t(n * d), rng), wg = randn(size_t(ff * d), rng, 0.05f),
                      wu = randn(size_t(ff * d), rng, 0.05f), wk = randn(size_t(kv * d), rng, 0.05f);
            rl::tensor tx = g.put(x, n, d), twg = g.put(wg, ff, d), twu = g.put(wu, ff, d), twk = g.put(wk, kv, d);
            rl::tensor gate = g.poisoned(n, ff), up = g.poisoned(n, ff), act = g.poisoned(n, ff), k = g.poisoned(n, kv),
                       gate2 = g.poisoned(n, ff);
            const rl::tensor* w[] = {&twg, &twk};
            rl::tensor* o[] = {&gate2, &k};
            g.be->matmuls(tx, w, o);
            g.be->gate_up_silu(tx, twg, twu, gate, up, act);
            const auto ref_g = ref_product(x, wg, n, ff, d);
            const std::string tag = " n" + std::to_string(n);
            CHECK_REL("matmuls gate" + tag, rel_l2(g.get(gate2), ref_g));
            CHECK_REL("matmuls k" + tag, rel_l2(g.get(k), ref_product(x, wk, n, kv, d)));
            CHECK_REL("gate_up_silu" + tag, rel_l2(g.get(act), ref_glu(ref_g, ref_product(x, wu, n, ff, d))));
        }
    }

    // RMSNorm folded into the products that read it, and the residual add into the product that
    // feeds it, through the backend: fused at 1-2 rows, composed from the plain ops at 3.
    void backendResidualEnds() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(23);
        // (unless an A/B run sent every product to cuBLASLt: RIDGELINE_TUNING=gemv_max_rows=0)
        QVERIFY2(g.be->fuses_residual(1) || rl::kernels::tuning().gemv_max_rows == 0, "decode at one row should fuse");
        QVERIFY(!g.be->fuses_residual(3));
        const float eps = 1e-5f;
        for (int64_t n : {1, 2, 3}) {
            const int64_t d = 576, ff = 1536, kv = 192;
            vec x = randn(size_t(n * d), rng), nw = randn(size_t(d), rng, 0.2f);
            for (float& v : nw) v += 1.f;
            const vec wk = randn(size_t(kv * d), rng, 0.05f), wg = randn(size_t(ff * d), rng, 0.05f),
                      wu = randn(size_t(ff * d), rng, 0.05f), wd = randn(size_t(d * ff), rng, 0.05f),
                      a = randn(size_t(n * ff), rng);
            rl::tensor tx = g.put(x, n, d, rl::dtype::f32), tnw = g.put(nw, 1, d, rl::dtype::f32),
                       twk = g.put(wk, kv, d), twg = g.put(wg, ff, d), twu = g.put(wu, ff, d), twd = g.put(wd, d, ff),
                       ta = g.put(a, n, ff);
            rl::tensor xn = g.poisoned(n, d), k = g.poisoned(n, kv), gate = g.poisoned(n, ff), up = g.poisoned(n, ff),
                       act = g.poisoned(n, ff), tmp = g.poisoned(n, d);
            // Reference: xn = bf16(x * rsqrt(mean(x^2) + eps) * nw), as rms_norm writes it.
            vec xn_ref(size_t(n * d));
            for (int64_t i = 0; i < n; ++i) {
                double ss = 0;
                for (int64_t c = 0; c < d; ++c) ss += double(x[size_t(i * d + c)]) * x[size_t(i * d + c)];
                const double inv = 1.0 / std::sqrt(ss / double(d) + eps);
                for (int64_t c = 0; c < d; ++c) xn_ref[size_t(i * d + c)] = rb(float(x[size_t(i * d + c)] * inv * nw[size_t(c)]));
            }
            const rl::tensor* w[] = {&twk};
            rl::tensor* o[] = {&k};
            g.be->norm_matmuls(tx, tnw, eps, xn, w, o);
            g.be->norm_gate_up_silu(tx, tnw, eps, xn, twg, twu, gate, up, act);
            g.be->matmul_add(ta, twd, tmp, tx);
            const std::string tag = " n" + std::to_string(n);
            CHECK_REL("norm_matmuls" + tag, rel_l2(g.get(k), ref_product(xn_ref, wk, n, kv, d)));
            CHECK_REL("norm_gate_up_silu" + tag,
                      rel_l2(g.get(act), ref_glu(ref_product(xn_ref, wg, n, ff, d), ref_product(xn_ref, wu, n, ff, d))));
            // x += bf16(a . wd^T): compare what was added (x is exact in f32, so the difference is too, to f32 rounding).
            const vec x2 = g.get(tx);
            const auto prod = ref_product(a, wd, n, d, ff);
            std::vector<double> added(prod.size()), want(prod.size());
            for (size_t i = 0; i < prod.size(); ++i) {
                added[i] = double(x2[i]) - double(x[i]);
                want[i] = rb(float(prod[i]));
            }
            CHECK_REL("matmul_add" + tag, rel_l2(vec(added.begin(), added.end()), want));
        }
    }

    void ropeKvStoreEqualsUnfused() {
        GPU_OR_SKIP();
        struct rc { int n_heads, n_kv, head_dim, rope_dim; bool neox; };
        std::mt19937 rng(23);
        // The last two take the scalar kernel (rope_dim / 2 not a multiple of 8), the rest the vector
        // one: at 21 rows in head groups (a group can hold q and kv heads), at 301 rows (a prefill)
        // one CTA per row over every head (32:8 at head_dim 128: several units per thread).
        for (rc c : {rc{9, 3, 64, 64, false}, rc{8, 2, 128, 128, true}, rc{4, 2, 128, 64, true}, rc{4, 4, 96, 32, false},
                     rc{32, 8, 128, 128, false}, rc{4, 2, 64, 20, false}, rc{3, 1, 64, 36, true}})
            for (int prompt : {20, 300}) {
                gpu g;
                const int bs = 16;
                g.be->alloc_kv(rl::kv_cache_layout{2, 64, bs, c.n_kv, c.head_dim});
                std::vector<float> inv(size_t(c.rope_dim / 2));
                for (int i = 0; i < c.rope_dim / 2; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * i / c.rope_dim));
                const rl::rope_params rq{c.n_heads, c.head_dim, c.rope_dim, c.neox, &inv};
                const rl::rope_params rk{c.n_kv, c.head_dim, c.rope_dim, c.neox, &inv};
                // Two sequences: a prompt at position 0 (blocks 3, 5, 7, ...) and one token at 4990
                // (large angles; blocks 41..49, disjoint from the prompt's).
                rl::step_input in;
                for (int i = 0; i <= prompt; ++i) in.tokens.push_back(0);
                for (int i = 0; i < prompt; ++i) in.positions.push_back(i);
                in.positions.push_back(4990);
                std::vector<int32_t> t0(size_t((prompt + bs - 1) / bs));
                for (size_t i = 0; i < t0.size(); ++i) t0[i] = int32_t(3 + 2 * i);
                in.seqs.push_back(rl::seq_slice{0, prompt, 0, t0});
                std::vector<int32_t> table(size_t(4990 / bs + 1), 0);
                for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(41 + i % 9);
                in.seqs.push_back(rl::seq_slice{prompt, 1, 4990, table});
                g.be->set_step(in);
                const int n = prompt + 1, qw = c.n_heads * c.head_dim, kw = c.n_kv * c.head_dim;
                const vec q = randn(size_t(n * qw), rng), k = randn(size_t(n * kw), rng), v = randn(size_t(n * kw), rng);
                rl::tensor q1 = g.put(q, n, qw), k1 = g.put(k, n, kw), v1 = g.put(v, n, kw);
                rl::tensor q2 = g.put(q, n, qw), k2 = g.put(k, n, kw), v2 = g.put(v, n, kw);
                g.be->rope_kv_store(0, q1, k1, v1, rq, rk);  // fused, into layer 0
                g.be->rope(q2, rq);                          // unfused, into layer 1
                g.be->rope(k2, rk);
                g.be->kv_store(1, k2, v2);
                QVERIFY(g.get(q1) == g.get(q2));
                // The stored K/V, read back through attention over each layer (the second sequence
                // reads only its own new token's slot).
                expect_same_pools(g, q1, q2, c.n_heads, c.n_kv, c.head_dim,
                                  "h" + std::to_string(c.n_heads) + " d" + std::to_string(c.head_dim) + " rope " +
                                      std::to_string(c.rope_dim) + " rows " + std::to_string(n));
            }
    }

    void normQkvRopeStoreEqualsUnfused() {
        GPU_OR_SKIP();
        std::mt19937 rng(24);
        struct rc { int n_heads, n_kv, head_dim, rope_dim; };
        for (rc c : {rc{9, 3, 64, 64}, rc{8, 2, 128, 128}, rc{4, 4, 96, 32}})
            for (int n : {1, 2}) {
                gpu g;
                const int bs = 16, d = 256, qw = c.n_heads * c.head_dim, kw = c.n_kv * c.head_dim;
                g.be->alloc_kv(rl::kv_cache_layout{2, 400, bs, c.n_kv, c.head_dim});
                std::vector<float> inv(size_t(c.rope_dim / 2));
                for (int i = 0; i < c.rope_dim / 2; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * i / c.rope_dim));
                const rl::rope_params rq{c.n_heads, c.head_dim, c.rope_dim, false, &inv};
                const rl::rope_params rk{c.n_kv, c.head_dim, c.rope_dim, false, &inv};
                // Decode rows at positions 4990 (large angles) and 37, each with its own table.
                rl::step_input in;
                std::vector<int32_t> table(size_t(4990 / bs + 1));
                for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(1 + i % 300);
                const int pos[] = {4990, 37};
                for (int r = 0; r < n; ++r) {
                    in.tokens.push_back(0);
                    in.positions.push_back(pos[r]);
                    std::vector<int32_t> t(table.begin(), table.begin() + pos[r] / bs + 1);
                    if (r == 1) t.back() = 350;
                    in.seqs.push_back(rl::seq_slice{r, 1, pos[r], t});
                }
                g.be->set_step(in);
                vec x = randn(size_t(n * d), rng), nw = randn(size_t(d), rng, 0.2f);
                for (float& v : nw) v += 1.f;
                const vec wq = randn(size_t(qw * d), rng, 0.05f), wk = randn(size_t(kw * d), rng, 0.05f),
                          wv = randn(size_t(kw * d), rng, 0.05f);
                rl::tensor tx = g.put(x, n, d, rl::dtype::f32), tnw = g.put(nw, 1, d, rl::dtype::f32),
                           twq = g.put(wq, qw, d), twk = g.put(wk, kw, d), twv = g.put(wv, kw, d), xn = g.poisoned(n, d);
                rl::tensor q1 = g.poisoned(n, qw), k1 = g.poisoned(n, kw), v1 = g.poisoned(n, kw);
                rl::tensor q2 = g.poisoned(n, qw), k2 = g.poisoned(n, kw), v2 = g.poisoned(n, kw);
                const rl::tensor* w[] = {&twq, &twk, &twv};
                rl::tensor* o1[] = {&q1, &k1, &v1};
                rl::tensor* o2[] = {&q2, &k2, &v2};
                g.be->norm_qkv_rope_kv_store(0, tx, tnw, 1e-5f, xn, w, o1, rq, rk);  // fused, into layer 0
                g.be->norm_matmuls(tx, tnw, 1e-5f, xn, w, o2);                      // unfused, into layer 1
                g.be->rope_kv_store(1, q2, k2, v2, rq, rk);
                const std::string tag = "h" + std::to_string(c.n_heads) + " d" + std::to_string(c.head_dim) + " n" +
                                        std::to_string(n);
                QVERIFY2(g.get(q1) == g.get(q2), ("rotated q differs, " + tag).c_str());
                expect_same_pools(g, q1, q2, c.n_heads, c.n_kv, c.head_dim, tag);
            }
    }
};

RL_TEST_MAIN(TestGpuFused, gemvEveryRowCount, gemvRefusesWhatItCannotDo, backendFusedProducts, backendResidualEnds,
             ropeKvStoreEqualsUnfused, normQkvRopeStoreEqualsUnfused, gemvEverySplitLayout, tuningOverrides)
#include "test_gpu_fused.moc"
