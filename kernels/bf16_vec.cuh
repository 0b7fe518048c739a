// bf16_vec.cuh: device helpers shared by the bf16 kernel families: 8-wide (16-byte) bf16 loads
// and stores that widen to fp32 registers, scalar conversions, and warp reductions. Activations
// and the KV pool are bf16 bit patterns held as uint16_t (kernels.h stays free of CUDA headers).
#pragma once
#include <cuda_bf16.h>
#include <cstdint>

namespace rl::kernels {

__device__ __forceinline__ float bf16_to_f32(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
__device__ __forceinline__ uint16_t f32_to_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

// 8 bf16 held raw in 16 bytes (as loaded) -> 8 floats.
__device__ __forceinline__ void widen8_bf16(const uint4 raw, float (&v)[8]) {
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
    }
}

// 8 consecutive bf16 (16 bytes, p must be 16-byte aligned) -> 8 floats.
__device__ __forceinline__ void load8_bf16(const uint16_t* p, float (&v)[8]) {
    widen8_bf16(*reinterpret_cast<const uint4*>(p), v);
}

// 8 consecutive floats (p 16-byte aligned) -> v, in two 16-byte loads.
__device__ __forceinline__ void load8_f32(const float* p, float (&v)[8]) {
    const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// 8 floats -> 8 bf16 (round to nearest even) at p (16-byte aligned).
__device__ __forceinline__ void store8_bf16(uint16_t* p, const float (&v)[8]) {
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = uint32_t(f32_to_bf16(v[2 * i])) | (uint32_t(f32_to_bf16(v[2 * i + 1])) << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
// `scratch` holds 32 floats of shared memory; the trailing barrier makes it reusable at once.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < n_warps ? scratch[lane] : 0.f;
    t = warp_sum(t);
    __syncthreads();
    return t;
}

// True when p is 16-byte aligned (the precondition of load8_bf16 / store8_bf16).
__host__ __device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

} // namespace rl::kernels
