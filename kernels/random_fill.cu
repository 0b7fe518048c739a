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
#include <string>

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

// Synthetic weights in a GGUF block format: every quant byte uniform random (three 8-bit draws
// per splitmix value), then the block's f16 scale fields set so that the values span about
// [-amp, amp] as the bf16 synthetic's uniform weights do. One thread per block.
__device__ __forceinline__ void put_half(uint8_t* p, float v) {
    const uint16_t h = __half_as_ushort(__float2half_rn(v));
    p[0] = uint8_t(h & 0xFF), p[1] = uint8_t(h >> 8);
}

__global__ void __launch_bounds__(threads) fill_blocks_kernel(uint8_t* __restrict__ out, int64_t n_blocks, int type,
                                                              int block_bytes, uint64_t seed, float amp) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < n_blocks; b += stride) {
        uint8_t* blk = out + b * block_bytes;
        for (int i = 0; i < block_bytes; ++i)
            blk[i] = uint8_t(random_uniform_at(seed, uint64_t(b) * uint64_t(block_bytes) + uint64_t(i), 0.f, 256.f));
        switch (ggml_type(type)) {
        case ggml_type::q8_0: put_half(blk, amp / 127.f); break;
        case ggml_type::q4_0: put_half(blk, amp / 8.f); break;
        case ggml_type::q5_0: put_half(blk, amp / 16.f); break;
        case ggml_type::q4_1: put_half(blk, 2.f * amp / 15.f), put_half(blk + 2, -amp); break;
        case ggml_type::q5_1: put_half(blk, 2.f * amp / 31.f), put_half(blk + 2, -amp); break;
        // d * sc * q - dmin * m with 6-bit sc and m: within [-amp, amp].
        case ggml_type::q4_k: put_half(blk, amp / (15.f * 63.f)), put_half(blk + 2, amp / 63.f); break;
        case ggml_type::q5_k: put_half(blk, amp / (31.f * 63.f)), put_half(blk + 2, amp / 63.f); break;
        case ggml_type::q6_k: put_half(blk + 208, amp / (128.f * 32.f)); break;  // int8 scales x (q - 32)
        default: break;
        }
    }
}

} // namespace

void fill_blocks(ggml_type type, void* out, int64_t n_blocks, uint64_t seed, float amp, rl_stream stream) {
    const ggml_type_traits tr = ggml_traits(type);
    const bool ok = type == ggml_type::q8_0 || type == ggml_type::q4_0 || type == ggml_type::q4_1 ||
                    type == ggml_type::q5_0 || type == ggml_type::q5_1 || type == ggml_type::q4_k ||
                    type == ggml_type::q5_k || type == ggml_type::q6_k;
    RL_CHECK(ok, std::string("fill_blocks: no random blocks for type ") + (tr.name ? tr.name : "?"));
    RL_CHECK(n_blocks >= 0 && (out || n_blocks == 0), "fill_blocks: bad output");
    RL_CHECK(std::isfinite(amp) && amp > 0.f, "fill_blocks: amp must be finite and positive");
    if (n_blocks == 0) return;
    constexpr int64_t max_ctas = 2048;
    const unsigned grid = unsigned(std::clamp<int64_t>((n_blocks + threads - 1) / threads, 1, max_ctas));
    fill_blocks_kernel<<<grid, threads, 0, stream>>>(static_cast<uint8_t*>(out), n_blocks, int(type),
                                                     int(tr.block_bytes), seed, amp);
    RL_CUDA_CHECK_LAUNCH();
}

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
