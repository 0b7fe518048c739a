// norm.cu: RMSNorm over bf16 rows, out = x / sqrt(mean(x^2) + eps) * w, and a fused residual
// add + RMSNorm (x += y; out = rms_norm(x) * w) that saves one pass over the residual stream.
// One CTA per row: pass 1 sums squares in fp32 (block reduction), pass 2 re-reads the row (an L1/L2
// hit) and writes. The weight may be fp32 or bf16. Exercised by tests/test_gpu_kernels.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"

namespace rl::kernels {
namespace {

constexpr int threads = 128;

__device__ __forceinline__ void load8_w(const float* w, float (&v)[8]) {
    const float4 a = *reinterpret_cast<const float4*>(w), b = *reinterpret_cast<const float4*>(w + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ void load8_w(const uint16_t* w, float (&v)[8]) { load8_bf16(w, v); }
__device__ __forceinline__ float load_w(const float* w, int64_t i) { return w[i]; }
__device__ __forceinline__ float load_w(const uint16_t* w, int64_t i) { return bf16_to_f32(w[i]); }
__device__ __forceinline__ float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// x and out may alias (in-place norm): each thread reads an element before writing the same
// element, and no other thread touches it, so neither pointer is __restrict__.
// Vec: d % 8 == 0 and every pointer 16-byte aligned; each thread owns the same 8-wide chunks in
// both passes, so with Add the second pass reads back the sums this thread wrote.
template <bool Vec, bool Add, typename W>
__global__ void __launch_bounds__(threads) rms_norm_kernel(uint16_t* x, const uint16_t* y, const W* __restrict__ w,
                                                           float eps, uint16_t* out, int64_t d) {
    __shared__ float scratch[32];
    const int64_t row = blockIdx.x;
    uint16_t* xr = x + row * d;
    uint16_t* o = out + row * d;
    float ss = 0.f;
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < d; c += int64_t(blockDim.x) * 8) {
            float a[8];
            load8_bf16(xr + c, a);
            if constexpr (Add) {
                float b[8];
                load8_bf16(y + row * d + c, b);
#pragma unroll
                for (int e = 0; e < 8; ++e) a[e] = round_bf16(a[e] + b[e]);  // the norm sees the stored sum
                store8_bf16(xr + c, a);
            }
#pragma unroll
            for (int e = 0; e < 8; ++e) ss += a[e] * a[e];
        }
    } else {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
            float a = bf16_to_f32(xr[c]);
            if constexpr (Add) {
                a = round_bf16(a + bf16_to_f32(y[row * d + c]));
                xr[c] = f32_to_bf16(a);
            }
            ss += a * a;
        }
    }
    const float inv = rsqrtf(block_sum(ss, scratch) / float(d) + eps);
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < d; c += int64_t(blockDim.x) * 8) {
            float a[8], g[8];
            load8_bf16(xr + c, a);
            load8_w(w + c, g);
#pragma unroll
            for (int e = 0; e < 8; ++e) a[e] = a[e] * inv * g[e];
            store8_bf16(o + c, a);
        }
    } else {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = f32_to_bf16(bf16_to_f32(xr[c]) * inv * load_w(w, c));
    }
}

template <bool Add, typename W>
void launch(uint16_t* x, const uint16_t* y, const W* w, float eps, uint16_t* out, int64_t rows, int64_t d,
            cudaStream_t stream) {
    const bool vec = d % 8 == 0 && aligned16(x) && aligned16(out) && aligned16(w) && (!Add || aligned16(y));
    if (vec) rms_norm_kernel<true, Add, W><<<unsigned(rows), threads, 0, stream>>>(x, y, w, eps, out, d);
    else rms_norm_kernel<false, Add, W><<<unsigned(rows), threads, 0, stream>>>(x, y, w, eps, out, d);
    RL_CUDA_CHECK_LAUNCH();
}

template <bool Add>
void dispatch(uint16_t* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows,
              int64_t d, cudaStream_t stream) {
    RL_CHECK(x && w && out && (!Add || y), "rms_norm_bf16: null pointer");
    RL_CHECK(rows >= 0 && d > 0 && rows <= 0x7FFFFFFF, "rms_norm_bf16: bad shape");
    RL_CHECK(eps >= 0.f, "rms_norm_bf16: negative eps");
    if (rows == 0) return;
    if (w_is_bf16) launch<Add>(x, y, static_cast<const uint16_t*>(w), eps, out, rows, d, stream);
    else launch<Add>(x, y, static_cast<const float*>(w), eps, out, rows, d, stream);
}

} // namespace

void rms_norm_bf16(const uint16_t* x, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows,
                   int64_t d, rl_stream stream) {
    // Without Add the kernel only reads x; the cast lets both variants share one kernel.
    dispatch<false>(const_cast<uint16_t*>(x), nullptr, w, w_is_bf16, eps, out, rows, d, stream);
}

void add_rms_norm_bf16(uint16_t* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out,
                       int64_t rows, int64_t d, rl_stream stream) {
    dispatch<true>(x, y, w, w_is_bf16, eps, out, rows, d, stream);
}

} // namespace rl::kernels
