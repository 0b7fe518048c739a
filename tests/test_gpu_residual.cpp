// The CUDA backend's f32 paths (the model keeps its residual stream, the gathered logit rows and
// the logits in f32) and the on-device argmax, through the backend's ops, each against a CPU
// reference in double from the same inputs. Outputs are poisoned (NaN) before every run.
// Tolerances: copies exact; f32 adds exact up to fp32 rounding (< 1e-6); norm (bf16 output)
// and GEMM with f32 output (bf16 operands, fp32 accumulation) < 1e-2 relative L2 (bf16 rounding
// of the output alone is ~2e-3; with f32 output the GEMM lands near 1e-6); argmax exact.
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

namespace {

using namespace rl_gpu_test;
constexpr rl::dtype f32 = rl::dtype::f32, bf16 = rl::dtype::bf16;

} // namespace

class TestGpuResidual : public QObject {
    Q_OBJECT
private slots:
    // embed into f32, x += y (bf16), fused add + norm and plain norm from f32, f32 row gather.
    void f32ResidualOps() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(11);
        for (int64_t d : {576, 100}) {  // vector and scalar paths
            const int64_t V = 300, n = 7;
            const vec table = randn(size_t(V * d), rng, 1.f, true), y = randn(size_t(n * d), rng, 0.5f, true),
                      w = randn(size_t(d), rng, 1.f, true);
            rl::step_input in;
            for (int i = 0; i < n; ++i) in.tokens.push_back(int32_t(rng() % V)), in.positions.push_back(i);
            in.seqs.push_back(rl::seq_slice{0, int(n), 0, {}});
            in.logit_rows = {6, 0, 3};
            g.be->set_step(in);
            rl::tensor tt = g.put(table, V, d, bf16), x = g.poisoned(n, d, f32), ty = g.put(y, n, d, bf16),
                       tw = g.put(w, 1, d, bf16), xn = g.poisoned(n, d, bf16), xn2 = g.poisoned(n, d, bf16),
                       gath = g.poisoned(3, d, f32);
            g.be->embed(tt, x);
            const vec x0 = g.get(x);
            for (int i = 0; i < n; ++i)
                for (int64_t c = 0; c < d; ++c) QCOMPARE(x0[size_t(i * d + c)], table[size_t(in.tokens[size_t(i)] * d + c)]);
            g.be->add(x, ty);           // x = e + y
            g.be->add_rms_norm(x, ty, tw, 1e-5f, xn);  // x = e + 2y, xn = norm(x)
            g.be->rms_norm(x, tw, 1e-5f, xn2);
            g.be->gather_logit_rows(x, gath);
            const vec xs = g.get(x), o = g.get(xn), o2 = g.get(xn2), gr = g.get(gath);
            std::vector<double> ref(o.size()), ref_x(xs.size());
            for (int64_t r = 0; r < n; ++r) {
                double ss = 0;
                for (int64_t c = 0; c < d; ++c) {
                    const size_t i = size_t(r * d + c);
                    ref_x[i] = double(x0[i]) + 2.0 * y[i];
                    ss += ref_x[i] * ref_x[i];
                }
                const double s = 1.0 / std::sqrt(ss / double(d) + 1e-5);
                for (int64_t c = 0; c < d; ++c) ref[size_t(r * d + c)] = ref_x[size_t(r * d + c)] * s * w[size_t(c)];
            }
            QVERIFY2(rel_l2(xs, ref_x) < 1e-6, "f32 residual add");
            QVERIFY2(rel_l2(o, ref) < 1e-2, "add_rms_norm from f32");
            QVERIFY2(rel_l2(o2, ref) < 1e-2, "rms_norm from f32");
            for (int i = 0; i < 3; ++i)
                for (int64_t c = 0; c < d; ++c) QCOMPARE(gr[size_t(i * d + c)], xs[size_t(in.logit_rows[size_t(i)] * d + c)]);
        }
    }

    void matmulF32Out() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(12);
        const int64_t n = 5, k = 576, m = 1000;
        const vec x = randn(size_t(n * k), rng, 1.f, true), w = randn(size_t(m * k), rng, 0.05f, true);
        rl::tensor tx = g.put(x, n, k, bf16), tw = g.put(w, m, k, bf16), to = g.poisoned(n, m, f32);
        g.be->matmul(tx, tw, to);
        const vec o = g.get(to);
        std::vector<double> ref(o.size());
        for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < m; ++c) {
                double s = 0;
                for (int64_t i = 0; i < k; ++i) s += double(x[size_t(r * k + i)]) * w[size_t(c * k + i)];
                ref[size_t(r * m + c)] = s;
            }
        const double e = rel_l2(o, ref);
        std::printf("matmul f32 out: rel L2 %.3g\n", e);
        QVERIFY2(e < 1e-4, "matmul with f32 output");  // fp32 accumulation, no output rounding
    }

    void argmaxRows() {
        GPU_OR_SKIP();
        gpu g;
        std::mt19937 rng(13);
        for (int64_t cols : {49152, 1003}) {  // vector and scalar paths
            for (rl::dtype t : {f32, bf16}) {
                const int64_t rows = 6;
                vec v = randn(size_t(rows * cols), rng, 3.f, true);
                v[size_t(0 * cols + 17)] = 50.f, v[size_t(0 * cols + 900)] = 50.f;  // tie: the first wins
                v[size_t(1 * cols + cols - 1)] = 40.f;                               // last column
                v[size_t(2 * cols + 5)] = nan_f, v[size_t(2 * cols + 6)] = 45.f;     // NaN never wins
                for (int64_t c = 0; c < cols; ++c) v[size_t(3 * cols + c)] = -INFINITY;  // all -inf: 0
                rl::tensor tx = g.put(v, rows, cols, t);
                std::vector<int32_t> ids;
                g.be->argmax_rows(tx, ids);
                QCOMPARE(int(ids.size()), int(rows));
                const vec back = g.get(tx);
                for (int64_t r = 0; r < rows; ++r) {
                    int64_t best = 0;
                    for (int64_t c = 1; c < cols; ++c) {
                        const float a = back[size_t(r * cols + c)], b = back[size_t(r * cols + best)];
                        if (a > b || (std::isnan(b) && !std::isnan(a))) best = c;
                    }
                    QCOMPARE(ids[size_t(r)], int32_t(best));
                }
                QCOMPARE(ids[0], 17);
                QCOMPARE(ids[2], 6);
                QCOMPARE(ids[3], 0);
            }
        }
    }
};

RL_TEST_MAIN(TestGpuResidual, f32ResidualOps, matmulF32Out, argmaxRows)
#include "test_gpu_residual.moc"
