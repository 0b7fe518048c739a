// dequant.cu: GGUF block formats -> bf16 on the GPU (weights are uploaded once in their file
// format and expanded on the device). One thread per output element; blocks are tiny (32
// elements), so each thread reads its block's scale and its own quant.
#include "common.cuh"
#include "kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace rl::kernels {
namespace {

__device__ __forceinline__ float half_bits_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

__global__ void dequant_f32_kernel(const float* src, uint16_t* dst, int64_t n) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i < n) dst[i] = float_to_bf16_bits(src[i]);
}

__global__ void dequant_f16_kernel(const uint16_t* src, uint16_t* dst, int64_t n) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i < n) dst[i] = float_to_bf16_bits(half_bits_to_float(src[i]));
}

// q8_0: per 32 elements {fp16 d; int8 qs[32]}, x = d * q.
__global__ void dequant_q8_0_kernel(const uint8_t* src, uint16_t* dst, int64_t n) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const uint8_t* blk = src + (i / 32) * 34;
    const float d = half_bits_to_float(uint16_t(blk[0] | (blk[1] << 8)));
    dst[i] = float_to_bf16_bits(d * float(int8_t(blk[2 + i % 32])));
}

// q4_0: {fp16 d; uint8 qs[16]}; element j < 16 is the low nibble of qs[j], j >= 16 the high one.
__global__ void dequant_q4_0_kernel(const uint8_t* src, uint16_t* dst, int64_t n) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const uint8_t* blk = src + (i / 32) * 18;
    const float d = half_bits_to_float(uint16_t(blk[0] | (blk[1] << 8)));
    const int j = int(i % 32);
    const int q = j < 16 ? (blk[2 + j] & 0x0F) : (blk[2 + j - 16] >> 4);
    dst[i] = float_to_bf16_bits(d * float(q - 8));
}

// q4_1: {fp16 d; fp16 m; uint8 qs[16]}, x = d * q + m.
__global__ void dequant_q4_1_kernel(const uint8_t* src, uint16_t* dst, int64_t n) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const uint8_t* blk = src + (i / 32) * 20;
    const float d = half_bits_to_float(uint16_t(blk[0] | (blk[1] << 8)));
    const float m = half_bits_to_float(uint16_t(blk[2] | (blk[3] << 8)));
    const int j = int(i % 32);
    const int q = j < 16 ? (blk[4 + j] & 0x0F) : (blk[4 + j - 16] >> 4);
    dst[i] = float_to_bf16_bits(d * float(q) + m);
}

} // namespace

void dequantize_to_bf16(ggml_type type, const void* src, uint16_t* dst, int64_t n, rl_stream stream) {
    RL_CHECK(src && dst, "dequantize_to_bf16: null pointer");
    RL_CHECK(n >= 0, "dequantize_to_bf16: negative element count");
    if (n == 0) return;
    const int threads = 256;
    const unsigned blocks = unsigned((n + threads - 1) / threads);
    const auto* s8 = static_cast<const uint8_t*>(src);
    switch (type) {
    case ggml_type::f32:
        dequant_f32_kernel<<<blocks, threads, 0, stream>>>(static_cast<const float*>(src), dst, n);
        break;
    case ggml_type::f16:
        dequant_f16_kernel<<<blocks, threads, 0, stream>>>(static_cast<const uint16_t*>(src), dst, n);
        break;
    case ggml_type::bf16:
        RL_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * 2, cudaMemcpyDeviceToDevice, stream));
        return;
    case ggml_type::q8_0:
        RL_CHECK(n % 32 == 0, "dequantize_to_bf16: q8_0 needs a multiple of 32 elements");
        dequant_q8_0_kernel<<<blocks, threads, 0, stream>>>(s8, dst, n);
        break;
    case ggml_type::q4_0:
        RL_CHECK(n % 32 == 0, "dequantize_to_bf16: q4_0 needs a multiple of 32 elements");
        dequant_q4_0_kernel<<<blocks, threads, 0, stream>>>(s8, dst, n);
        break;
    case ggml_type::q4_1:
        RL_CHECK(n % 32 == 0, "dequantize_to_bf16: q4_1 needs a multiple of 32 elements");
        dequant_q4_1_kernel<<<blocks, threads, 0, stream>>>(s8, dst, n);
        break;
    default:
        RL_THROW("dequantize_to_bf16: type " + ggml_type_name(type) + " is not supported on the GPU yet");
    }
    RL_CUDA_CHECK_LAUNCH();
}

bool cuda_available(std::string* why) {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        if (why) *why = err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device";
        cudaGetLastError();  // clear the sticky error from the probe
        return false;
    }
    return true;
}

} // namespace rl::kernels
