// test_cpu_gemm: the CPU backend's fp32 matmul kernels (engine/backend/cpu_kernels.h, cpu_gemm.h)
// against a double-precision reference on random data over every edge of the packed AVX-512 GEMM:
// x rows not a multiple of its micro-tile, weight rows not a multiple of its 32-row panel, any
// k (not a multiple of the 16-wide transpose of the packing), and a row stride wider than the
// slice (the columns beside it must stay untouched). Then the same through cpu_backend::matmul
// with f32 weights and with block-format weights on the fp32-tile (prefill) path.
#include "rl_test.h"
#include "matmul_ref.h"

#include "backend/cpu_backend.h"
#include "backend/cpu_kernels.h"
#include "gguf/dequant.h"
#include "random_blocks.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace rl;

namespace {

std::vector<float> randn(size_t n, std::mt19937& g) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

using kernel = std::function<void(const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t)>;

// Runs kern on random x [n, k], w [mc, k] into out with ldo = mc + 3, and checks every product
// within fp32 summation error of sum |x||w|, and that the 3 columns past mc keep their sentinel.
bool check_kernel(const kernel& kern, int64_t n, int64_t mc, int64_t k, std::mt19937& rng, std::string& why) {
    const auto x = randn(size_t(n * k), rng), w = randn(size_t(mc * k), rng);
    const int64_t ldo = mc + 3;
    const float sentinel = 12345.f;
    std::vector<float> out(size_t(n * ldo), sentinel);
    kern(x.data(), n, k, w.data(), mc, out.data(), ldo);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < mc; ++c) {
            const reference_dot d = dot_reference(&w[size_t(c * k)], &x[size_t(i * k)], k);
            const double got = out[size_t(i * ldo + c)], want = d.value;
            if (!(std::fabs(got - want) <= 1e-5 * d.magnitude + 1e-30)) {
                why = "n=" + std::to_string(n) + " mc=" + std::to_string(mc) + " k=" + std::to_string(k) + " out[" +
                      std::to_string(i) + "][" + std::to_string(c) + "] = " + std::to_string(got) + ", want " +
                      std::to_string(want);
                return false;
            }
        }
        for (int64_t c = mc; c < ldo; ++c)
            if (out[size_t(i * ldo + c)] != sentinel) {
                why = "n=" + std::to_string(n) + " mc=" + std::to_string(mc) + " k=" + std::to_string(k) +
                      ": wrote past the slice at column " + std::to_string(c);
                return false;
            }
    }
    return true;
}

const int64_t kRows[] = {1, 2, 5, 6, 7, 13, 48, 49, 128};
const int64_t kCols[] = {1, 3, 16, 31, 32, 33, 70};
const int64_t kDepths[] = {1, 7, 16, 31, 32, 100, 576};

void check_all_shapes(const kernel& kern, const char* what) {
    std::mt19937 rng(7);
    std::string why;
    for (int64_t n : kRows)
        for (int64_t mc : kCols)
            for (int64_t k : kDepths) QVERIFY2(check_kernel(kern, n, mc, k, rng, why), (std::string(what) + " " + why).c_str());
}

} // namespace

class TestCpuGemm : public QObject {
    Q_OBJECT
private slots:
    void packedGemmMatchesReference();
    void matmulColsMatchesReference();
    void longRows();
    void backendF32Weights();
    void backendBlockWeights();
};

void TestCpuGemm::packedGemmMatchesReference() {
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
        QSKIP("no AVX-512 on this CPU");
    check_all_shapes(cpu_kernels::matmul_cols_packed, "packed");
#else
    QSKIP("the packed GEMM is x86-64 only");
#endif
}

void TestCpuGemm::matmulColsMatchesReference() {
    check_all_shapes(cpu_kernels::matmul_cols, "matmul_cols");
    check_all_shapes(cpu_kernels::matmul_cols_v3, "matmul_cols_v3");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        check_all_shapes(cpu_kernels::matmul_cols_avx2, "matmul_cols_avx2");
    if (cpu_kernels::has_avx512()) check_all_shapes(cpu_kernels::matmul_cols_v4, "matmul_cols_v4");
}

// Rows as long as a 1B model's, where fp32 summation error grows: still within the bound.
void TestCpuGemm::longRows() {
    std::mt19937 rng(11);
    std::string why;
    for (int64_t k : {2048, 1000})
        QVERIFY2(check_kernel(cpu_kernels::matmul_cols, 30, 40, k, rng, why), why.c_str());
}

void TestCpuGemm::backendF32Weights() {
    std::mt19937 rng(5);
    cpu_backend be(2);
    std::string why;
    for (int64_t n : {1, 9, 49})
        for (int64_t m : {3, 33, 70, 200})
            for (int64_t k : {7, 100, 576}) {
                const kernel via_backend = [&](const float* x, int64_t rows, int64_t depth, const float* w, int64_t mc,
                                               float* out, int64_t ldo) {
                    tensor tx = be.alloc(rows, depth, dtype::f32), tw = be.alloc(mc, depth, dtype::f32),
                           to = be.alloc(rows, mc, dtype::f32);
                    be.upload(tx, x);
                    be.upload(tw, w);
                    be.matmul(tx, tw, to);
                    std::vector<float> got(size_t(rows * mc));
                    be.download(to, got.data());
                    for (int64_t i = 0; i < rows; ++i) std::memcpy(out + i * ldo, &got[size_t(i * mc)], size_t(mc) * 4);
                    for (tensor* t : {&tx, &tw, &to}) be.release(*t);
                };
                QVERIFY2(check_kernel(via_backend, n, m, k, rng, why), ("f32 weights " + why).c_str());
            }
}

// Block-format weights with more rows than the integer kernels take: each pool task expands a tile
// of weight rows to fp32 and runs the packed GEMM on it. The reference is the dequantized weights.
void TestCpuGemm::backendBlockWeights() {
    std::mt19937 rng(9);
    cpu_backend be(2);
    for (ggml_type t : {ggml_type::q8_0, ggml_type::q4_k}) {
        const int64_t k = t == ggml_type::q4_k ? 512 : 96;
        for (int64_t m : {1, 31, 33, 70, 100}) {
            const auto raw = rl_test_blocks::random_blocks(t, m, k, rng, 0.05f);
            std::vector<float> w(size_t(m * k));
            const size_t rb = ggml_row_bytes(t, k);
            for (int64_t r = 0; r < m; ++r) dequantize_row(t, raw.data() + size_t(r) * rb, w.data() + r * k, k);
            tensor tw = be.alloc(m, k, *block_dtype(t));
            std::memcpy(tw.data, raw.data(), raw.size());
            for (int64_t n : {cpu_backend::kQuantMaxRows + 1, int64_t(13), int64_t(49), int64_t(128)}) {
                const auto x = randn(size_t(n * k), rng);
                tensor tx = be.alloc(n, k, dtype::f32), to = be.alloc(n, m, dtype::f32);
                be.upload(tx, x.data());
                be.matmul(tx, tw, to);
                std::vector<float> got(size_t(n * m));
                be.download(to, got.data());
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t r = 0; r < m; ++r) {
                        const reference_dot d = dot_reference(&w[size_t(r * k)], &x[size_t(i * k)], k);
                        QVERIFY2(std::fabs(got[size_t(i * m + r)] - d.value) <= 1e-5 * d.magnitude + 1e-30,
                                 (std::string(ggml_type_name(t)) + " n=" + std::to_string(n) + " m=" + std::to_string(m) +
                                  " row " + std::to_string(i) + " col " + std::to_string(r))
                                     .c_str());
                    }
                be.release(tx);
                be.release(to);
            }
            be.release(tw);
        }
    }
}

RL_TEST_MAIN(TestCpuGemm, packedGemmMatchesReference, matmulColsMatchesReference, longRows,
             backendF32Weights, backendBlockWeights)
#include "test_cpu_gemm.moc"
