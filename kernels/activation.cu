// activation.cu: the gated FFN activations, out = act(gate) * up, in fp32 with one rounding to
// bf16: SwiGLU (silu(g) = g / (1 + exp(-g))) and Gemma's GeGLU (GELU in its tanh form, the
// formula of cpu_backend::gelu_mul). 16-byte path when n and the pointers allow, scalar otherwise.
// Exercised by tests/test_gpu_kernels.cpp and, end to end, tests/test_gpu_families.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <algorithm>
#include <string>

namespace rl::kernels {
namespace {

constexpr int threads = 256;

// expf (not __expf): full fp32 accuracy costs nothing visible in a memory-bound op.
struct silu_op {
    __device__ __forceinline__ float operator()(float g) const { return g / (1.f + expf(-g)); }
};
struct gelu_tanh_op {  // 0.5 g (1 + tanh(sqrt(2/pi) g (1 + 0.044715 g^2)))
    __device__ __forceinline__ float operator()(float g) const {
        return 0.5f * g * (1.f + tanhf(0.7978845608028654f * g * (1.f + 0.044715f * g * g)));
    }
};

template <class Act>
__global__ void act_mul_vec_kernel(const uint16_t* __restrict__ gate, const uint16_t* __restrict__ up,
                                    uint16_t* __restrict__ out, int64_t n8) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n8; i += int64_t(gridDim.x) * blockDim.x) {
        float g[8], u[8];
        load8_bf16(gate + i * 8, g);
        load8_bf16(up + i * 8, u);
#pragma unroll
        for (int e = 0; e < 8; ++e) g[e] = Act{}(g[e]) * u[e];
        store8_bf16(out + i * 8, g);
    }
}

template <class Act>
__global__ void act_mul_scalar_kernel(const uint16_t* __restrict__ gate, const uint16_t* __restrict__ up,
                                       uint16_t* __restrict__ out, int64_t n) {
    pdl_wait();
    pdl_trigger();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = f32_to_bf16(Act{}(bf16_to_f32(gate[i])) * bf16_to_f32(up[i]));
}

template <class Act>
void act_mul(const char* what, const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream) {
    RL_CHECK(gate && up && out && n >= 0, std::string(what) + ": bad arguments");
    if (n == 0) return;
    const bool vec = n % 8 == 0 && aligned16(gate) && aligned16(up) && aligned16(out);
    const int64_t work = vec ? n / 8 : n;
    const unsigned grid = unsigned(std::clamp<int64_t>((work + threads - 1) / threads, 1, 1 << 16));
    if (vec) launch(act_mul_vec_kernel<Act>, grid, threads, 0, stream, gate, up, out, n / 8);
    else launch(act_mul_scalar_kernel<Act>, grid, threads, 0, stream, gate, up, out, n);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace

void silu_mul_bf16(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream) {
    act_mul<silu_op>("silu_mul_bf16", gate, up, out, n, stream);
}

void gelu_mul_bf16(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream) {
    act_mul<gelu_tanh_op>("gelu_mul_bf16", gate, up, out, n, stream);
}

} // namespace rl::kernels
