// norm.cu: RMSNorm over bf16 or f32 rows, out (bf16) = x / sqrt(mean(x^2) + eps) * w, and a fused
// residual add + RMSNorm (x += y; out = rms_norm(x) * w) that saves one pass over the residual
// stream. The model keeps the residual stream x in f32 (y, the sublayer output, is bf16).
// One CTA per row: pass 1 sums squares in fp32 (block reduction), pass 2 re-reads the row (an L1/L2
// hit) and writes. The weight may be fp32 or bf16. Exercised by tests/test_gpu_kernels.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

namespace rl::kernels {
namespace {

constexpr int threads = 128;

__device__ __forceinline__ void load8_w(const float* w, float (&v)[8]) { load8_f32(w, v); }
__device__ __forceinline__ void load8_w(const uint16_t* w, float (&v)[8]) { load8_bf16(w, v); }
__device__ __forceinline__ float load_w(const float* w, int64_t i) { return w[i]; }
__device__ __forceinline__ float load_w(const uint16_t* w, int64_t i) { return bf16_to_f32(w[i]); }
__device__ __forceinline__ float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }
// Residual elements: bf16 (rounded on store) or f32.
__device__ __forceinline__ void load8_x(const uint16_t* p, float (&v)[8]) { load8_bf16(p, v); }
__device__ __forceinline__ void load8_x(const float* p, float (&v)[8]) { load8_w(p, v); }
__device__ __forceinline__ void store8_x(uint16_t* p, const float (&v)[8]) { store8_bf16(p, v); }
__device__ __forceinline__ void store8_x(float* p, const float (&v)[8]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
}
__device__ __forceinline__ float load_x(const uint16_t* p) { return bf16_to_f32(*p); }
__device__ __forceinline__ float load_x(const float* p) { return *p; }
__device__ __forceinline__ void store_x(uint16_t* p, float v) { *p = f32_to_bf16(v); }
__device__ __forceinline__ void store_x(float* p, float v) { *p = v; }
template <typename X> __device__ __forceinline__ float keep(float v) {
    if constexpr (sizeof(X) == 2) return round_bf16(v);  // the norm sees the stored sum
    else return v;
}

// x and out may alias (in-place norm): each thread reads an element before writing the same
// element, and no other thread touches it, so neither pointer is __restrict__.
// Vec: d % 8 == 0 and every pointer 16-byte aligned; each thread owns the same 8-wide chunks in
// both passes, so with Add the second pass reads back the sums this thread wrote.
template <bool Vec, bool Add, typename X, typename W>
__global__ void __launch_bounds__(threads) rms_norm_kernel(X* x, const uint16_t* y, const W* __restrict__ w,
                                                           float eps, uint16_t* out, int64_t d) {
    pdl_wait();
    pdl_trigger();
    __shared__ float scratch[32];
    const int64_t row = blockIdx.x;
    X* xr = x + row * d;
    uint16_t* o = out + row * d;
    float ss = 0.f;
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < d; c += int64_t(blockDim.x) * 8) {
            float a[8];
            load8_x(xr + c, a);
            if constexpr (Add) {
                float b[8];
                load8_bf16(y + row * d + c, b);
#pragma unroll
                for (int e = 0; e < 8; ++e) a[e] = keep<X>(a[e] + b[e]);
                store8_x(xr + c, a);
            }
#pragma unroll
            for (int e = 0; e < 8; ++e) ss += a[e] * a[e];
        }
    } else {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
            float a = load_x(xr + c);
            if constexpr (Add) {
                a = keep<X>(a + bf16_to_f32(y[row * d + c]));
                store_x(xr + c, a);
            }
            ss += a * a;
        }
    }
    const float inv = rsqrtf(block_sum(ss, scratch) / float(d) + eps);
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < d; c += int64_t(blockDim.x) * 8) {
            float a[8], g[8];
            load8_x(xr + c, a);
            load8_w(w + c, g);
#pragma unroll
            for (int e = 0; e < 8; ++e) a[e] = a[e] * inv * g[e];
            store8_bf16(o + c, a);
        }
    } else {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = f32_to_bf16(load_x(xr + c) * inv * load_w(w, c));
    }
}

template <bool Add, typename X, typename W>
void launch_family(X* x, const uint16_t* y, const W* w, float eps, uint16_t* out, int64_t rows, int64_t d,
            cudaStream_t stream) {
    const bool vec = d % 8 == 0 && aligned16(x) && aligned16(out) && aligned16(w) && (!Add || aligned16(y));
    if (vec) launch(rms_norm_kernel<true, Add, X, W>, unsigned(rows), threads, 0, stream, x, y, w, eps, out, d);
    else launch(rms_norm_kernel<false, Add, X, W>, unsigned(rows), threads, 0, stream, x, y, w, eps, out, d);
    RL_CUDA_CHECK_LAUNCH();
}

template <bool Add, typename X>
void dispatch(X* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows,
              int64_t d, cudaStream_t stream) {
    RL_CHECK(x && w && out && (!Add || y), "rms_norm_bf16: null pointer");
    RL_CHECK(rows >= 0 && d > 0 && rows <= 0x7FFFFFFF, "rms_norm_bf16: bad shape");
    RL_CHECK(eps >= 0.f, "rms_norm_bf16: negative eps");
    if (rows == 0) return;
    if (w_is_bf16) launch_family<Add>(x, y, static_cast<const uint16_t*>(w), eps, out, rows, d, stream);
    else launch_family<Add>(x, y, static_cast<const float*>(w), eps, out, rows, d, stream);
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

void rms_norm_f32(const float* x, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows, int64_t d,
                  rl_stream stream) {
    dispatch<false>(const_cast<float*>(x), nullptr, w, w_is_bf16, eps, out, rows, d, stream);
}

void add_rms_norm_f32(float* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out,
                      int64_t rows, int64_t d, rl_stream stream) {
    dispatch<true>(x, y, w, w_is_bf16, eps, out, rows, d, stream);
}

} // namespace rl::kernels
