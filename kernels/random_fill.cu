// random_fill.cu: synthetic weights made on the device. fill_uniform writes
// random_uniform_at(seed, i, lo, hi) (engine/backend/random_uniform.h, the CPU backend's
// definition) for i < n, rounded once to the output type, so a synthetic model's weights equal
// the CPU backend's bit for bit without 8 billion host values and a PCIe copy (a Llama-3-8B shape
// took tens of seconds to fill through the host). Exercised by tests/test_gpu_dequant.cpp.
#include "backend/random_uniform.h"
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"

#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>

namespace rl::kernels {
namespace {

constexpr int threads = 256;

template <int Kind>  // 0 f32, 1 bf16, 2 f16 (fill_kind)
__global__ void __launch_bounds__(threads) fill_uniform_kernel(void* __restrict__ out, int64_t n, uint64_t seed,
                                                               float lo, float hi) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float v = random_uniform_at(seed, uint64_t(i), lo, hi);
        if constexpr (Kind == 0) static_cast<float*>(out)[i] = v;
        else if constexpr (Kind == 1) static_cast<uint16_t*>(out)[i] = f32_to_bf16(v);
        else static_cast<uint16_t*>(out)[i] = __half_as_ushort(__float2half_rn(v));
    }
}

} // namespace

void fill_uniform(void* out, fill_kind kind, int64_t n, uint64_t seed, float lo, float hi, rl_stream stream) {
    RL_CHECK(n >= 0, "fill_uniform: negative element count");
    RL_CHECK(out || n == 0, "fill_uniform: null output");
    RL_CHECK(lo <= hi && std::isfinite(hi - lo), "fill_uniform: the range [lo, hi) must be finite, lo <= hi");
    if (n == 0) return;
    // A grid-stride loop over at most 2,048 CTAs (half a million threads, more than any current
    // GPU holds at once): the hash is ~20 integer ops per value, the store is what bounds it.
    constexpr int64_t max_ctas = 2048;
    const unsigned grid = unsigned(std::clamp<int64_t>((n + threads - 1) / threads, 1, max_ctas));
    switch (kind) {
    case fill_kind::f32: fill_uniform_kernel<0><<<grid, threads, 0, stream>>>(out, n, seed, lo, hi); break;
    case fill_kind::bf16: fill_uniform_kernel<1><<<grid, threads, 0, stream>>>(out, n, seed, lo, hi); break;
    case fill_kind::f16: fill_uniform_kernel<2><<<grid, threads, 0, stream>>>(out, n, seed, lo, hi); break;
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
