// random_uniform.h: the counter-based uniform values behind backend::fill_random (synthetic
// models), one definition for the host and for CUDA device code (kernels/random_fill.cu), so a
// tensor filled on the GPU equals the one the CPU backend fills, bit for bit.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define RL_HOST_DEVICE __host__ __device__
#else
#define RL_HOST_DEVICE
#endif

namespace rl {

/// The value fill_random puts at `index`: splitmix64 of (seed, index), its top 24 bits scaled
/// to [lo, hi).
RL_HOST_DEVICE inline float random_uniform_at(uint64_t seed, uint64_t index, float lo, float hi) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = float(z >> 40);  // exact: 24 bits
#if defined(__CUDA_ARCH__)
    // nvcc would contract lo + a * b into one FMA (one rounding instead of two); the host rounds
    // twice (ridgeline_core compiles, and passes on, -ffp-contract=off), so the device does too.
    return __fadd_rn(lo, __fmul_rn(__fmul_rn(hi - lo, u), 1.0f / 16777216.0f));
#else
    return lo + (hi - lo) * u * (1.0f / 16777216.0f);
#endif
}

} // namespace rl
