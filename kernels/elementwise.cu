// elementwise.cu: the small bf16 ops of a step: residual add, bias add, scaling (gemma3's
// embedding), row gather (logit rows), and fp32 <-> bf16 conversions. Math in fp32, one rounding to bf16 per output. Each op has a
// 16-byte path (8 values per thread) used when sizes and pointers allow, and a scalar fallback.
// Exercised by tests/test_gpu_kernels.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <algorithm>

namespace rl::kernels {
namespace {

constexpr int threads = 256;

// Grid for a grid-stride loop over `work` items: enough CTAs to fill the chip, capped.
unsigned grid_for(int64_t work) { return unsigned(std::clamp<int64_t>((work + threads - 1) / threads, 1, 1 << 16)); }

template <bool Vec>
__global__ void gather_rows_kernel(const uint16_t* __restrict__ src, int64_t src_rows, int64_t cols,
                                   const int32_t* __restrict__ rows, uint16_t* __restrict__ out) {
    pdl_wait();
    pdl_trigger();
    const int64_t i = blockIdx.x;
    const int32_t r = rows[i];
    uint16_t* o = out + i * cols;
    if (r < 0 || int64_t(r) >= src_rows) {  // validated on the host; poison rather than read outside
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = 0x7FC0;
        return;
    }
    const uint16_t* s = src + int64_t(r) * cols;
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < cols; c += int64_t(blockDim.x) * 8)
            *reinterpret_cast<uint4*>(o + c) = *reinterpret_cast<const uint4*>(s + c);
    } else {
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = s[c];
    }
}

__global__ void add_vec_kernel(uint16_t* __restrict__ x, const uint16_t* __restrict__ y, int64_t n8) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n8; i += int64_t(gridDim.x) * blockDim.x) {
        float a[8], b[8];
        load8_bf16(x + i * 8, a);
        load8_bf16(y + i * 8, b);
#pragma unroll
        for (int e = 0; e < 8; ++e) a[e] += b[e];
        store8_bf16(x + i * 8, a);
    }
}

__global__ void add_f32_bf16_kernel(float* __restrict__ x, const uint16_t* __restrict__ y, int64_t n, bool vec) {
    pdl_wait();
    pdl_trigger();
    const int64_t step = int64_t(gridDim.x) * blockDim.x;
    if (vec) {
        for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n / 8; i += step) {
            float b[8];
            load8_bf16(y + i * 8, b);
            float4* p = reinterpret_cast<float4*>(x + i * 8);
            float4 a0 = p[0], a1 = p[1];
            a0.x += b[0], a0.y += b[1], a0.z += b[2], a0.w += b[3];
            a1.x += b[4], a1.y += b[5], a1.z += b[6], a1.w += b[7];
            p[0] = a0, p[1] = a1;
        }
    } else {
        for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += step) x[i] += bf16_to_f32(y[i]);
    }
}

__global__ void add_scalar_kernel(uint16_t* __restrict__ x, const uint16_t* __restrict__ y, int64_t n) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        x[i] = f32_to_bf16(bf16_to_f32(x[i]) + bf16_to_f32(y[i]));
}

// Vec: cols % 8 == 0, so an 8-wide chunk never straddles two rows.
template <bool Vec>
__global__ void add_bias_kernel(uint16_t* __restrict__ x, const uint16_t* __restrict__ bias, int64_t rows,
                                int64_t cols) {
    pdl_wait();
    pdl_trigger();
    const int64_t n = rows * cols;
    const int64_t step = int64_t(gridDim.x) * blockDim.x;
    if constexpr (Vec) {
        for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n / 8; i += step) {
            float a[8], b[8];
            load8_bf16(x + i * 8, a);
            load8_bf16(bias + (i * 8) % cols, b);
#pragma unroll
            for (int e = 0; e < 8; ++e) a[e] += b[e];
            store8_bf16(x + i * 8, a);
        }
    } else {
        for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += step)
            x[i] = f32_to_bf16(bf16_to_f32(x[i]) + bf16_to_f32(bias[i % cols]));
    }
}

__global__ void f32_to_bf16_kernel(const float* __restrict__ src, uint16_t* __restrict__ dst, int64_t n) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dst[i] = f32_to_bf16(src[i]);
}

__global__ void bf16_to_f32_kernel(const uint16_t* __restrict__ src, float* __restrict__ dst, int64_t n) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dst[i] = bf16_to_f32(src[i]);
}

template <class T>
__global__ void scale_kernel(T* __restrict__ x, int64_t n, float s) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        if constexpr (sizeof(T) == 4) x[i] *= s;
        else x[i] = f32_to_bf16(bf16_to_f32(x[i]) * s);
    }
}

} // namespace

// Rows are copied as 16-bit units: an f32 row of c values is 2c units (a poisoned f32 row reads
// 0x7FC07FC0, a NaN too).
void gather_rows(const void* src_v, int64_t src_rows, int64_t cols_e, int elem_bytes, const int32_t* rows, int n,
                 void* out_v, rl_stream stream) {
    RL_CHECK(src_v && rows && out_v, "gather_rows: null pointer");
    RL_CHECK(src_rows >= 0 && cols_e > 0 && n >= 0 && (elem_bytes == 2 || elem_bytes == 4), "gather_rows: bad shape");
    if (n == 0) return;
    const auto* src = static_cast<const uint16_t*>(src_v);
    auto* out = static_cast<uint16_t*>(out_v);
    const int64_t cols = cols_e * elem_bytes / 2;
    if (cols % 8 == 0 && aligned16(src) && aligned16(out))
        launch(gather_rows_kernel<true>, unsigned(n), 128, 0, stream, src, src_rows, cols, rows, out);
    else
        launch(gather_rows_kernel<false>, unsigned(n), 128, 0, stream, src, src_rows, cols, rows, out);
    RL_CUDA_CHECK_LAUNCH();
}

void add_bf16(uint16_t* x, const uint16_t* y, int64_t n, rl_stream stream) {
    RL_CHECK(x && y && n >= 0, "add_bf16: bad arguments");
    if (n == 0) return;
    if (n % 8 == 0 && aligned16(x) && aligned16(y))
        launch(add_vec_kernel, grid_for(n / 8), threads, 0, stream, x, y, n / 8);
    else
        launch(add_scalar_kernel, grid_for(n), threads, 0, stream, x, y, n);
    RL_CUDA_CHECK_LAUNCH();
}

void add_f32_bf16(float* x, const uint16_t* y, int64_t n, rl_stream stream) {
    RL_CHECK(x && y && n >= 0, "add_f32_bf16: bad arguments");
    if (n == 0) return;
    const bool vec = n % 8 == 0 && aligned16(x) && aligned16(y);
    launch(add_f32_bf16_kernel, grid_for(vec ? n / 8 : n), threads, 0, stream, x, y, n, vec);
    RL_CUDA_CHECK_LAUNCH();
}

void add_bias_bf16(uint16_t* x, const uint16_t* bias, int64_t rows, int64_t cols, rl_stream stream) {
    RL_CHECK(x && bias && rows >= 0 && cols > 0, "add_bias_bf16: bad arguments");
    if (rows == 0) return;
    if (cols % 8 == 0 && aligned16(x) && aligned16(bias))
        launch(add_bias_kernel<true>, grid_for(rows * cols / 8), threads, 0, stream, x, bias, rows, cols);
    else
        launch(add_bias_kernel<false>, grid_for(rows * cols), threads, 0, stream, x, bias, rows, cols);
    RL_CUDA_CHECK_LAUNCH();
}

void scale_inplace(void* x, bool x_is_bf16, int64_t n, float s, rl_stream stream) {
    RL_CHECK(x && n >= 0, "scale_inplace: bad arguments");
    if (n == 0) return;
    if (x_is_bf16) launch(scale_kernel<uint16_t>, grid_for(n), threads, 0, stream, static_cast<uint16_t*>(x), n, s);
    else launch(scale_kernel<float>, grid_for(n), threads, 0, stream, static_cast<float*>(x), n, s);
    RL_CUDA_CHECK_LAUNCH();
}

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n, rl_stream stream) {
    RL_CHECK(src && dst && n >= 0, "f32_to_bf16: bad arguments");
    if (n == 0) return;
    launch(f32_to_bf16_kernel, grid_for(n), threads, 0, stream, src, dst, n);
    RL_CUDA_CHECK_LAUNCH();
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n, rl_stream stream) {
    RL_CHECK(src && dst && n >= 0, "bf16_to_f32: bad arguments");
    if (n == 0) return;
    launch(bf16_to_f32_kernel, grid_for(n), threads, 0, stream, src, dst, n);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
