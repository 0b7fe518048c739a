// The fused quantized GEMM (kernels/qmma*.cu) against a double reference over the CPU
// dequantization (engine/gguf/dequant.cpp, ggml's dequantize_row_*):
//   matchesReference: bf16 and every block format at M 9-130 (partial 64-row tiles, warps with no
//     rows), N 64-200 (partial column tiles), K of 1-10 tiles of 256 and, for the 32-element
//     formats, K = 576 and 800 (a partial last k tile); f32 and bf16 output. Many of these shapes
//     split K (few output tiles), so the merge is covered too.
//   splitKLeavesCountersAtZero: shapes that split K deeply, each run twice on one workspace with
//     the output poisoned in between: the second run must write every element, bit-identical
//     to the first (the merge order is fixed), which holds only if the first left its arrival
//     counters at zero.
//   rejectsBadArguments: unsupported types and shapes, and a too-small workspace, throw.
// The kernel rounds dequantized weights to bf16 in shared memory, so the reference does too; x is
// bf16-exact. A bf16 output is compared with the reference rounded to bf16.
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "qmma.h"

#include <cuda_runtime.h>

#include <cstring>

namespace {

using rl_gpu_test::vec;

const rl::ggml_type kTypes[] = {rl::ggml_type::bf16, rl::ggml_type::q8_0, rl::ggml_type::q4_0,
                                rl::ggml_type::q4_1, rl::ggml_type::q5_0, rl::ggml_type::q5_1,
                                rl::ggml_type::q4_k, rl::ggml_type::q5_k, rl::ggml_type::q6_k};

void cuda_ok(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw rl::engine_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Device memory freed at scope end.
struct dev_buf {
    void* p = nullptr;
    explicit dev_buf(size_t n) { cuda_ok(cudaMalloc(&p, std::max<size_t>(n, 1)), "cudaMalloc"); }
    ~dev_buf() { cudaFree(p); }
    dev_buf(const dev_buf&) = delete;
    dev_buf& operator=(const dev_buf&) = delete;
};

// Random weight rows: bf16 values, or blocks with finite, modest f16 scale fields
// (rl_gpu_test::random_blocks).
std::vector<uint8_t> random_weights(rl::ggml_type t, int64_t rows, int64_t cols, std::mt19937& rng) {
    if (t == rl::ggml_type::bf16) {
        std::vector<uint8_t> raw(size_t(rows) * rl::ggml_row_bytes(t, cols));
        const vec v = rl_gpu_test::randn(size_t(rows * cols), rng, 0.05f);
        for (size_t i = 0; i < v.size(); ++i) {
            const uint16_t b = rl::fp32_to_bf16(v[i]);
            std::memcpy(&raw[2 * i], &b, 2);
        }
        return raw;
    }
    return rl_gpu_test::random_blocks(t, rows, cols, rng);
}

// x [M, K] times the host-dequantized weights rounded to bf16, transposed, in double.
std::vector<double> reference(rl::ggml_type t, const vec& x, const std::vector<uint8_t>& raw, int64_t M, int64_t N,
                              int64_t K) {
    vec w(size_t(N * K));
    const size_t rb = rl::ggml_row_bytes(t, K);
    for (int64_t r = 0; r < N; ++r) rl::dequantize_row(t, raw.data() + size_t(r) * rb, w.data() + r * K, K);
    for (float& v : w) v = rl_gpu_test::rb(v);
    std::vector<double> out(size_t(M * N));
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            const float* xr = x.data() + i * K;
            const float* wr = w.data() + j * K;
            for (int64_t c = 0; c < K; ++c) s += double(xr[c]) * double(wr[c]);
            out[size_t(i * N + j)] = s;
        }
    return out;
}

// One product on the device: x and the weights uploaded, the output poisoned (NaN in both
// types) before each of `runs` launches; returns the output of the last run (bits and values).
struct result {
    std::vector<uint8_t> bits;
    vec values;
};
result run_qmma(rl::ggml_type t, const vec& x, const std::vector<uint8_t>& raw, int64_t M, int64_t N, int64_t K,
                bool out_f32, void* ws, size_t ws_bytes, int runs, std::vector<uint8_t>* first_bits = nullptr) {
    std::vector<uint16_t> xb(x.size());
    for (size_t i = 0; i < x.size(); ++i) xb[i] = rl::fp32_to_bf16(x[i]);
    const size_t out_bytes = size_t(M * N) * (out_f32 ? 4 : 2);
    dev_buf dx(xb.size() * 2), dw(raw.size()), dout(out_bytes);
    cuda_ok(cudaMemcpy(dx.p, xb.data(), xb.size() * 2, cudaMemcpyHostToDevice), "upload x");
    cuda_ok(cudaMemcpy(dw.p, raw.data(), raw.size(), cudaMemcpyHostToDevice), "upload w");
    result r;
    r.bits.resize(out_bytes);
    for (int i = 0; i < runs; ++i) {
        cuda_ok(cudaMemset(dout.p, 0xFF, out_bytes), "poison out");
        rl::kernels::qmma(t, static_cast<const uint16_t*>(dx.p), dw.p, dout.p, out_f32, M, N, K, ws, ws_bytes, nullptr);
        cuda_ok(cudaDeviceSynchronize(), "qmma");
        cuda_ok(cudaMemcpy(r.bits.data(), dout.p, out_bytes, cudaMemcpyDeviceToHost), "download out");
        if (i == 0 && first_bits) *first_bits = r.bits;
    }
    r.values.resize(size_t(M * N));
    for (size_t i = 0; i < r.values.size(); ++i) {
        if (out_f32) {
            std::memcpy(&r.values[i], &r.bits[4 * i], 4);
        } else {
            uint16_t b;
            std::memcpy(&b, &r.bits[2 * i], 2);
            r.values[i] = rl::bf16_to_fp32(b);
        }
    }
    return r;
}

std::vector<double> rounded_to_bf16(const std::vector<double>& v) {
    std::vector<double> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = rl_gpu_test::rb(float(v[i]));
    return r;
}

std::string case_name(rl::ggml_type t, int64_t M, int64_t N, int64_t K, bool out_f32) {
    return rl::ggml_type_name(t) + " " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
           (out_f32 ? " f32" : " bf16");
}

// A zeroed workspace big enough for every shape up to (M, N, K).
struct workspace {
    size_t bytes;
    dev_buf buf;
    workspace(int64_t M, int64_t N, int64_t K) : bytes(rl::kernels::qmma_workspace_bytes(M, N, K)), buf(bytes) {
        cuda_ok(cudaMemset(buf.p, 0, std::max<size_t>(bytes, 1)), "zero workspace");
    }
};

} // namespace

class TestGpuQmma : public QObject {
    Q_OBJECT
private slots:
    void matchesReference() {
        GPU_OR_SKIP();
        std::mt19937 rng(5);
        workspace ws(130, 200, 2560);
        for (rl::ggml_type t : kTypes) {
            const int64_t block = rl::ggml_traits(t).block_elems;
            for (int64_t K : {256, 768, 2560, 576, 800}) {
                if (K % block != 0) continue;
                for (int64_t M : {9, 37, 64, 130})
                    for (int64_t N : {64, 96, 200}) {
                        QVERIFY(rl::kernels::qmma_supported(t, M, N, K));
                        const vec x = rl_gpu_test::randn(size_t(M * K), rng);
                        const std::vector<uint8_t> raw = random_weights(t, N, K, rng);
                        const std::vector<double> ref = reference(t, x, raw, M, N, K);
                        for (bool f32 : {true, false}) {
                            const result r = run_qmma(t, x, raw, M, N, K, f32, ws.buf.p, ws.bytes, 1);
                            const double err = rl_gpu_test::rel_l2(r.values, f32 ? ref : rounded_to_bf16(ref));
                            QVERIFY2(err < 1e-3, rl_gpu_test::fmt(case_name(t, M, N, K, f32), err).c_str());
                        }
                    }
            }
        }
    }

    void splitKLeavesCountersAtZero() {
        GPU_OR_SKIP();
        std::mt19937 rng(9);
        // One output tile over 64 k tiles (the deepest split), and 4 x 4 partial tiles over 32.
        struct shape { int64_t M, N, K; };
        const shape shapes[] = {{16, 64, 16384}, {130, 200, 8192}};
        workspace ws(130, 200, 16384);
        QVERIFY2(ws.bytes > 0, "these shapes split K on any GPU with more than one SM");
        for (rl::ggml_type t : {rl::ggml_type::q4_k, rl::ggml_type::q6_k, rl::ggml_type::q8_0, rl::ggml_type::q5_1,
                                rl::ggml_type::bf16})
            for (const shape& s : shapes) {
                const vec x = rl_gpu_test::randn(size_t(s.M * s.K), rng);
                const std::vector<uint8_t> raw = random_weights(t, s.N, s.K, rng);
                const std::vector<double> ref = reference(t, x, raw, s.M, s.N, s.K);
                for (bool f32 : {true, false}) {
                    std::vector<uint8_t> first;
                    const result r = run_qmma(t, x, raw, s.M, s.N, s.K, f32, ws.buf.p, ws.bytes, 2, &first);
                    const std::string what = case_name(t, s.M, s.N, s.K, f32) + " x2";
                    QVERIFY2(r.bits == first, (what + ": the second run differs from the first").c_str());
                    const double err = rl_gpu_test::rel_l2(r.values, f32 ? ref : rounded_to_bf16(ref));
                    QVERIFY2(err < 1e-3, rl_gpu_test::fmt(what, err).c_str());
                }
            }
        // The counters lead the workspace and must all be back at zero (qmma.cu's layout).
        std::vector<int32_t> counters(16);
        cuda_ok(cudaMemcpy(counters.data(), ws.buf.p, counters.size() * 4, cudaMemcpyDeviceToHost), "counters");
        for (int32_t c : counters) QCOMPARE(c, 0);
    }

    void rejectsBadArguments() {
        using rl::kernels::qmma_supported;
        QVERIFY(!qmma_supported(rl::ggml_type::q4_k, 64, 64, 576));  // not whole 256-element blocks
        QVERIFY(!qmma_supported(rl::ggml_type::q8_0, 64, 64, 48));
        QVERIFY(!qmma_supported(rl::ggml_type::bf16, 64, 64, 100));  // not a multiple of 8
        QVERIFY(!qmma_supported(rl::ggml_type::f16, 64, 64, 256));   // no device format
        QVERIFY(!qmma_supported(rl::ggml_type::q4_0, 0, 64, 256));
        QVERIFY(!qmma_supported(rl::ggml_type::q4_0, 64, 64, 0));
        QVERIFY(qmma_supported(rl::ggml_type::q4_0, 1, 1, 32));
        GPU_OR_SKIP();
        const int64_t M = 16, N = 64, K = 4096;  // one output tile: split on any GPU with > 1 SM
        const size_t need = rl::kernels::qmma_workspace_bytes(M, N, K);
        QVERIFY(need > 0);
        dev_buf dx(size_t(M * K) * 2), dw(rl::ggml_row_bytes(rl::ggml_type::q4_k, K) * size_t(N)),
            dout(size_t(M * N) * 4), dws(need);
        const auto* x = static_cast<const uint16_t*>(dx.p);
        auto throws = [&](auto&& f) {
            try {
                f();
            } catch (const rl::engine_error&) {
                return true;
            }
            return false;
        };
        QVERIFY(throws([&] { rl::kernels::qmma(rl::ggml_type::q4_k, x, dw.p, dout.p, true, M, N, 576, dws.p, need, nullptr); }));
        QVERIFY(throws([&] { rl::kernels::qmma(rl::ggml_type::f16, x, dw.p, dout.p, true, M, N, K, dws.p, need, nullptr); }));
        QVERIFY(throws([&] { rl::kernels::qmma(rl::ggml_type::q4_k, x, dw.p, dout.p, true, M, N, K, nullptr, 0, nullptr); }));
        QVERIFY(throws([&] { rl::kernels::qmma(rl::ggml_type::q4_k, x, dw.p, dout.p, true, M, N, K, dws.p, need / 2, nullptr); }));
        QVERIFY(throws([&] { rl::kernels::qmma(rl::ggml_type::q4_k, x + 1, dw.p, dout.p, true, M, N, K, dws.p, need, nullptr); }));
    }
};

RL_TEST_MAIN(TestGpuQmma, matchesReference, splitKLeavesCountersAtZero, rejectsBadArguments)
#include "test_gpu_qmma.moc"
