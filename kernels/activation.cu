// activation.cu: the SwiGLU gate, out = silu(gate) * up = gate / (1 + exp(-gate)) * up, in fp32
// with one rounding to bf16. 16-byte path when n and the pointers allow, scalar otherwise.
// Exercised by tests/test_gpu_kernels.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <algorithm>

namespace rl::kernels {
namespace {

constexpr int threads = 256;

// expf (not __expf): full fp32 accuracy costs nothing visible in a memory-bound op.
__device__ __forceinline__ float silu(float g) { return g / (1.f + expf(-g)); }

__global__ void silu_mul_vec_kernel(const uint16_t* __restrict__ gate, const uint16_t* __restrict__ up,
                                    uint16_t* __restrict__ out, int64_t n8) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n8; i += int64_t(gridDim.x) * blockDim.x) {
        float g[8], u[8];
        load8_bf16(gate + i * 8, g);
        load8_bf16(up + i * 8, u);
#pragma unroll
        for (int e = 0; e < 8; ++e) g[e] = silu(g[e]) * u[e];
        store8_bf16(out + i * 8, g);
    }
}

__global__ void silu_mul_scalar_kernel(const uint16_t* __restrict__ gate, const uint16_t* __restrict__ up,
                                       uint16_t* __restrict__ out, int64_t n) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = f32_to_bf16(silu(bf16_to_f32(gate[i])) * bf16_to_f32(up[i]));
}

} // namespace

void silu_mul_bf16(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream) {
    RL_CHECK(gate && up && out && n >= 0, "silu_mul_bf16: bad arguments");
    if (n == 0) return;
    const bool vec = n % 8 == 0 && aligned16(gate) && aligned16(up) && aligned16(out);
    const int64_t work = vec ? n / 8 : n;
    const unsigned grid = unsigned(std::clamp<int64_t>((work + threads - 1) / threads, 1, 1 << 16));
    if (vec) launch(silu_mul_vec_kernel, grid, threads, 0, stream, gate, up, out, n / 8);
    else launch(silu_mul_scalar_kernel, grid, threads, 0, stream, gate, up, out, n);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
