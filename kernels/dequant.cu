// dequant.cu: GGUF weights -> bf16 on the GPU: at load under --weights bf16, and per product for
// the block formats' large-batch path (a reused bf16 scratch in front of cuBLASLt). f32 and f16
// one thread per element; the block formats one thread per unit of quant_formats.cuh, the same
// decoding the GEMV does in registers.
#include "common.cuh"
#include "kernels.h"
#include "quant_formats.cuh"

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

// A block format (quant_formats.cuh): one thread per unit, written as 8-element pieces (16-byte
// stores: every unit is a multiple of 8 elements and dst is 16-byte aligned).
template <class Q>
__global__ void dequant_blocks_kernel(const uint8_t* src, uint16_t* dst, int64_t units) {
    const int64_t u = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (u >= units) return;
    // Rows are whole blocks, so the tensor is one long row of blocks; unit u is unit u % per of
    // block u / per.
    constexpr int per = Q::block_elems / Q::unit_elems;
    const typename Q::raw r = Q::load(src + (u / per) * Q::block_bytes, int(u % per));
    uint16_t* o = dst + u * Q::unit_elems;
#pragma unroll
    for (int p = 0; p < Q::unit_elems / 8; ++p) {
        float w[8];
        Q::piece(r, p, w);
        store8_bf16(o + 8 * p, w);
    }
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
    default: {
        RL_CHECK(aligned16(src) && aligned16(dst), "dequantize_to_bf16: src and dst must be 16-byte aligned");
        const bool known = with_format(type, [&](auto q) {
            using Q = decltype(q);
            if constexpr (Q::block_elems > 1) {
            RL_CHECK(n % Q::block_elems == 0, "dequantize_to_bf16: " + ggml_type_name(type) + " needs a multiple of " +
                                                  std::to_string(Q::block_elems) + " elements");
            const int64_t units = n / Q::unit_elems;
            dequant_blocks_kernel<Q><<<unsigned((units + threads - 1) / threads), threads, 0, stream>>>(s8, dst, units);
            }
        });
        RL_CHECK(known, "dequantize_to_bf16: type " + ggml_type_name(type) + " is not supported on the GPU");
    }
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
