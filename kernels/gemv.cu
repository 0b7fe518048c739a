// gemv.cu: the skinny matmul of decode, out[n, m] = x[n, k] . w[m, k]^T for n <= 8 rows, bf16
// operands, fp32 accumulation, bf16 or f32 output. At small n the step is a stream over the
// weights (each read once); cuBLASLt reached ~60% of HBM bandwidth there (llama3-8b batch 1
// at 1.8 TB/s of 2.98, from the bench's cost model; no ncu run yet). One warp per output column j of w (row j of the
// [m, k] weight): lanes take 16-byte chunks of that weight row, four chunks in flight per lane,
// and dot them with the n x rows (small, L1/L2 resident); a warp reduction ends each of the
// n sums. Needs k % 8 == 0 and 16-byte aligned x and w (gemm.cpp falls back to cuBLASLt).
// Status: experimental, opt-in (RIDGELINE_GEMV=1, see gemm.cpp). On the H100 it matched cuBLASLt
// at n=1 (llama3-8b 8.04 vs 8.11 ms/step, both ~1.87 TB/s) and lost 2.3x at n=8.
// Exercised by tests/test_gpu_kernels.cpp (matmulMatchesCpu) and tests/test_gpu_residual.cpp when
// RIDGELINE_GEMV=1 is set (they passed so on the H100, as did test_gpu_backend).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"

namespace rl::kernels {
namespace {

constexpr int warps = 8;
constexpr int unroll = 4;  // 16-byte weight loads in flight per lane

__device__ __forceinline__ void ldg8_bf16(const uint16_t* p, float (&v)[8]) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
    }
}

template <int N, bool OutF32>
__global__ void __launch_bounds__(warps * 32) gemv_kernel(const uint16_t* __restrict__ x, const uint16_t* __restrict__ w,
                                                          void* __restrict__ out, int n, int m, int k) {
    const int j = int(blockIdx.x) * warps + int(threadIdx.x) / 32;  // output column
    const int lane = threadIdx.x % 32;
    if (j >= m) return;
    const uint16_t* wr = w + int64_t(j) * k;
    float acc[N];
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] = 0.f;
    for (int c0 = lane * 8; c0 < k; c0 += 32 * 8 * unroll) {
        float wf[unroll][8];
#pragma unroll
        for (int u = 0; u < unroll; ++u) {
            const int c = c0 + u * 32 * 8;
            if (c < k) ldg8_bf16(wr + c, wf[u]);
            else
#pragma unroll
                for (int e = 0; e < 8; ++e) wf[u][e] = 0.f;
        }
#pragma unroll
        for (int u = 0; u < unroll; ++u) {
            const int c = c0 + u * 32 * 8;
            if (c >= k) break;
#pragma unroll
            for (int r = 0; r < N; ++r) {
                if (r >= n) break;
                float xf[8];
                ldg8_bf16(x + int64_t(r) * k + c, xf);
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[r] = fmaf(xf[e], wf[u][e], acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < N; ++r) {
        if (r >= n) break;
        const float s = warp_sum(acc[r]);
        if (lane == 0) {
            if constexpr (OutF32) static_cast<float*>(out)[int64_t(r) * m + j] = s;
            else static_cast<uint16_t*>(out)[int64_t(r) * m + j] = f32_to_bf16(s);
        }
    }
}

template <int N>
void launch(const uint16_t* x, const uint16_t* w, void* out, int n, int m, int k, bool out_f32, cudaStream_t s) {
    const unsigned grid = unsigned((m + warps - 1) / warps);
    if (out_f32) gemv_kernel<N, true><<<grid, warps * 32, 0, s>>>(x, w, out, n, m, k);
    else gemv_kernel<N, false><<<grid, warps * 32, 0, s>>>(x, w, out, n, m, k);
}

} // namespace

bool gemv_bf16_supported(const uint16_t* x, const uint16_t* w, int64_t n, int64_t m, int64_t k) {
    return n >= 1 && n <= gemv_max_rows && m > 0 && m < (int64_t(1) << 30) && k % 8 == 0 && k < (int64_t(1) << 30) &&
           aligned16(x) && aligned16(w);
}

void gemv_bf16(const uint16_t* x, const uint16_t* w, void* out, int64_t n, int64_t m, int64_t k, bool out_f32,
               rl_stream stream) {
    RL_CHECK(out && gemv_bf16_supported(x, w, n, m, k), "gemv_bf16: unsupported shape or alignment");
    const int ni = int(n), mi = int(m), ki = int(k);
    if (n == 1) launch<1>(x, w, out, ni, mi, ki, out_f32, stream);
    else if (n == 2) launch<2>(x, w, out, ni, mi, ki, out_f32, stream);
    else if (n <= 4) launch<4>(x, w, out, ni, mi, ki, out_f32, stream);
    else launch<8>(x, w, out, ni, mi, ki, out_f32, stream);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
