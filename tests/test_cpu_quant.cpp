// test_cpu_quant: the CPU backend's block-format products (engine/backend/cpu_quant.h) against
// dequantize-then-fp64 on random blocks of every format, over odd row counts, several row
// lengths and batches of 1-8, at every kernel level this CPU runs (scalar, AVX2, AVX-512 VNNI);
// then cpu_backend's matmul, matmuls, gate_up_silu and embed on native weights, on both the integer
// path (few rows) and the fp32-tile path (prefill).
#include "rl_test.h"
#include "matmul_ref.h"

#include "backend/cpu_backend.h"
#include "backend/cpu_quant.h"
#include "gguf/dequant.h"
#include "random_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace rl;
using cpu_quant::isa;

namespace {

const ggml_type kTypes[] = {ggml_type::q4_0, ggml_type::q4_1, ggml_type::q5_0, ggml_type::q5_1,
                            ggml_type::q8_0, ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k};

std::vector<float> randn(size_t n, std::mt19937& g) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

std::vector<float> dequant(ggml_type t, const std::vector<uint8_t>& raw, int64_t rows, int64_t cols) {
    std::vector<float> w(size_t(rows * cols));
    const size_t rb = ggml_row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t, raw.data() + size_t(r) * rb, w.data() + r * cols, cols);
    return w;
}

// The error the 16-bit activations may cause: each x_e is rounded to a step of max|x| / kQMax over
// its block of 32 (one step more where lo's -128 is moved to -127), so it moves by at most one
// and a half steps, and the dot by at most
// sum_e |w_e| * step_e * 1.5. What remains is fp32 summation (1e-5 of sum |w x| covers it at these
// lengths). A decoding bug (a nibble order, a scale, an offset) moves results far past this.
double act_bound(const float* w, const float* x, int64_t k) {
    double b = 0, mag = 0;
    for (int64_t blk = 0; blk < k / 32; ++blk) {
        float amax = 0;
        for (int e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(x[32 * blk + e]));
        for (int e = 0; e < 32; ++e) {
            const int64_t i = 32 * blk + e;
            b += std::fabs(double(w[i])) * amax / cpu_quant::kQMax * 1.5;
            mag += std::fabs(double(w[i]) * x[i]);
        }
    }
    return b + 1e-5 * mag + 1e-6;
}

std::vector<isa> levels() {
    std::vector<isa> v;
    for (isa i : {isa::scalar, isa::avx2, isa::avx512_vnni})
        if (cpu_quant::isa_supported(i)) v.push_back(i);
    return v;
}

} // namespace

class TestCpuQuant : public QObject {
    Q_OBJECT
private slots:
    void kernelsMatchDequantizedReference();
    void levelsAgree();
    void backendProducts();
    void backendEmbedAndStorage();
};

void TestCpuQuant::kernelsMatchDequantizedReference() {
    std::mt19937 rng(24);
    int checked = 0;
    for (ggml_type t : kTypes) {
        const int64_t blk = ggml_traits(t).block_elems;
        for (int64_t k : {blk, 3 * blk, blk == 32 ? int64_t(576) : int64_t(1536)}) {
            for (int64_t rows : {int64_t(1), int64_t(7), int64_t(13)}) {
                const auto raw = rl_test_blocks::random_blocks(t, rows, k, rng, 0.05f);
                const auto w = dequant(t, raw, rows, k);
                for (int64_t n : {1, 2, 3, 5, 8}) {
                    const auto x = randn(size_t(n * k), rng);
                    cpu_quant::q8_rows q;
                    cpu_quant::resize_q8(q, n, k);
                    cpu_quant::quantize_rows(x.data(), 0, n, q);
                    const cpu_quant::block_weight bw{t, raw.data(), ggml_row_bytes(t, k), k};
                    for (isa level : levels()) {
                        std::vector<float> out(size_t(n * rows), NAN);
                        // Two calls over a split row range: offsets into the row range must hold.
                        const int64_t mid = rows / 2;
                        cpu_quant::gemv_rows(bw, q, 0, mid, out.data(), rows, level);
                        cpu_quant::gemv_rows(bw, q, mid, rows, out.data(), rows, level);
                        for (int64_t i = 0; i < n; ++i)
                            for (int64_t r = 0; r < rows; ++r) {
                                double want = 0;
                                for (int64_t e = 0; e < k; ++e) want += double(w[size_t(r * k + e)]) * x[size_t(i * k + e)];
                                const double got = out[size_t(i * rows + r)];
                                const double tol = act_bound(&w[size_t(r * k)], &x[size_t(i * k)], k);
                                QVERIFY2(std::fabs(got - want) <= tol,
                                         (ggml_type_name(t) + " " + cpu_quant::isa_name(level) + " k=" +
                                          std::to_string(k) + " row " + std::to_string(r) + " batch " +
                                          std::to_string(i) + ": " + std::to_string(got) + " vs " +
                                          std::to_string(want) + " (tolerance " + std::to_string(tol) + ")")
                                             .c_str());
                                ++checked;
                            }
                    }
                }
            }
        }
    }
    std::printf("%d products checked at levels:", checked);
    for (isa l : levels()) std::printf(" %s", cpu_quant::isa_name(l));
    std::printf("\n");
}

// The SIMD kernels compute the same integer sums as the scalar one; only the float order of the
// per-block scaling differs, so they agree far more closely than either agrees with fp32.
void TestCpuQuant::levelsAgree() {
    std::mt19937 rng(7);
    const auto lv = levels();
    if (lv.size() < 2) QSKIP("this CPU runs the scalar kernels only");
    for (ggml_type t : kTypes) {
        const int64_t k = 512, rows = 9, n = 4;
        const auto raw = rl_test_blocks::random_blocks(t, rows, k, rng, 0.05f);
        const auto w = dequant(t, raw, rows, k);
        const auto x = randn(size_t(n * k), rng);
        cpu_quant::q8_rows q;
        cpu_quant::resize_q8(q, n, k);
        cpu_quant::quantize_rows(x.data(), 0, n, q);
        const cpu_quant::block_weight bw{t, raw.data(), ggml_row_bytes(t, k), k};
        std::vector<float> ref(size_t(n * rows)), out(size_t(n * rows));
        cpu_quant::gemv_rows(bw, q, 0, rows, ref.data(), rows, isa::scalar);
        for (size_t l = 1; l < lv.size(); ++l) {
            cpu_quant::gemv_rows(bw, q, 0, rows, out.data(), rows, lv[l]);
            for (int64_t i = 0; i < n; ++i)
                for (int64_t r = 0; r < rows; ++r) {
                    double mag = 0;
                    for (int64_t e = 0; e < k; ++e) mag += std::fabs(double(w[size_t(r * k + e)]) * x[size_t(i * k + e)]);
                    const double d = std::fabs(out[size_t(i * rows + r)] - ref[size_t(i * rows + r)]);
                    QVERIFY2(d <= 1e-5 * mag + 1e-6, (ggml_type_name(t) + " " + cpu_quant::isa_name(lv[l]) +
                                                      " vs scalar: " + std::to_string(d)).c_str());
                }
        }
    }
}

void TestCpuQuant::backendProducts() {
    std::mt19937 rng(3);
    cpu_backend be(2);
    for (ggml_type t : {ggml_type::q4_1, ggml_type::q8_0, ggml_type::q4_k, ggml_type::q6_k}) {
        const dtype dt = *block_dtype(t);
        const int64_t k = 512, m = 37;
        const auto raw_a = rl_test_blocks::random_blocks(t, m, k, rng, 0.05f);
        const auto raw_b = rl_test_blocks::random_blocks(t, m, k, rng, 0.05f);
        const auto wa = dequant(t, raw_a, m, k), wb = dequant(t, raw_b, m, k);
        tensor ta = be.alloc(m, k, dt), tb = be.alloc(m, k, dt);
        std::memcpy(ta.data, raw_a.data(), raw_a.size());
        std::memcpy(tb.data, raw_b.data(), raw_b.size());
        // 1..8 rows: the integer kernels; 9 and 40: fp32 tiles (exact up to fp32 summation).
        for (int64_t n : {1, 3, 8, 9, 40}) {
            const bool int8 = n <= cpu_backend::kQuantMaxRows;
            const auto x = randn(size_t(n * k), rng);
            tensor tx = be.alloc(n, k, dtype::f32), o1 = be.alloc(n, m, dtype::f32), o2 = be.alloc(n, m, dtype::f32),
                   act = be.alloc(n, m, dtype::f32);
            be.upload(tx, x.data());
            auto check = [&](const tensor& o, const std::vector<float>& w, const char* what) {
                std::vector<float> got(size_t(n * m));
                be.download(o, got.data());
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t r = 0; r < m; ++r) {
                        const reference_dot d = dot_reference(&w[size_t(r * k)], &x[size_t(i * k)], k);
                        const double tol =
                            int8 ? act_bound(&w[size_t(r * k)], &x[size_t(i * k)], k) : 1e-5 * d.magnitude + 1e-6;
                        QVERIFY2(std::fabs(got[size_t(i * m + r)] - d.value) <= tol,
                                 (std::string(what) + " " + ggml_type_name(t) + " n=" + std::to_string(n)).c_str());
                    }
            };
            be.matmul(tx, ta, o1);
            check(o1, wa, "matmul");
            const tensor* ws[] = {&tb, &ta};
            tensor* os[] = {&o1, &o2};
            be.matmuls(tx, ws, os);
            check(o1, wb, "matmuls[0]");
            check(o2, wa, "matmuls[1]");
            // act = silu(x.wa^T) * x.wb^T, against the same products taken one at a time.
            be.gate_up_silu(tx, ta, tb, o1, o2, act);
            tensor ga = be.alloc(n, m, dtype::f32), ub = be.alloc(n, m, dtype::f32);
            be.matmul(tx, ta, ga);
            be.matmul(tx, tb, ub);
            std::vector<float> got(size_t(n * m)), g(size_t(n * m)), u(size_t(n * m));
            be.download(act, got.data());
            be.download(ga, g.data());
            be.download(ub, u.data());
            for (size_t i = 0; i < got.size(); ++i) {
                const double want = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
                QVERIFY2(std::fabs(got[i] - want) <= 1e-5 * (1 + std::fabs(want)), "gate_up_silu");
            }
            for (tensor* p : {&tx, &o1, &o2, &act, &ga, &ub}) be.release(*p);
        }
        be.release(ta);
        be.release(tb);
    }
}

void TestCpuQuant::backendEmbedAndStorage() {
    cpu_backend be(1);
    // auto and native keep the formats with kernels; f32 expands; bf16 is refused.
    QVERIFY(be.prefers_native_weights());
    QCOMPARE(int(be.weight_dtype(ggml_type::q4_1, 576, weight_storage::native)), int(dtype::q4_1));
    QCOMPARE(int(be.weight_dtype(ggml_type::q6_k, 768, weight_storage::automatic)), int(dtype::q6_k));
    QCOMPARE(int(be.weight_dtype(ggml_type::q4_1, 576, weight_storage::f32)), int(dtype::f32));
    QCOMPARE(int(be.weight_dtype(ggml_type::f16, 576, weight_storage::native)), int(dtype::f32));
    bool refused = false;
    try {
        be.weight_dtype(ggml_type::q4_1, 576, weight_storage::bf16);
    } catch (const std::exception&) {
        refused = true;
    }
    QVERIFY(refused);

    std::mt19937 rng(5);
    const int64_t V = 11, d = 96;
    const auto raw = rl_test_blocks::random_blocks(ggml_type::q5_0, V, d, rng);
    const auto table = dequant(ggml_type::q5_0, raw, V, d);
    tensor tt = be.alloc(V, d, dtype::q5_0);
    std::memcpy(tt.data, raw.data(), raw.size());
    step_input in;
    in.tokens = {3, 10, 0};
    in.positions = {0, 1, 2};
    seq_slice s;
    s.n_tokens = 3;
    s.block_table = {0};
    in.seqs = {s};
    be.set_step(in);
    tensor out = be.alloc(3, d, dtype::f32);
    be.embed(tt, out);
    std::vector<float> got(size_t(3 * d));
    be.download(out, got.data());
    for (int i = 0; i < 3; ++i)
        for (int64_t e = 0; e < d; ++e) QCOMPARE(got[size_t(i * d + e)], table[size_t(in.tokens[size_t(i)] * d + e)]);
    be.release(out);
    be.release(tt);
}

RL_TEST_MAIN(TestCpuQuant, kernelsMatchDequantizedReference, levelsAgree, backendProducts, backendEmbedAndStorage)
#include "test_cpu_quant.moc"
