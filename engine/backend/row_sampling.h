// row_sampling: the sampling rule a backend applies on the device, and its host reference. The
// kept set follows the host sampler's chain (top-k on the logits, then top-p on the softmax of
// what is left before temperature, then min-p, then temperature), but the draw is an inverse
// CDF in token-id order with a uniform u the caller supplies, so it needs no sort: the same
// distribution as sampler.cpp's draw in sorted order, not the same token for the same seed.
// Ties at a top-k or top-p threshold keep every tied token. NaN logits are never kept.
// Exercise: tests/test_sampler.cpp (reference), tests/test_gpu_sampling.cpp (device = reference).
#pragma once
#include <cstdint>
#include <vector>

namespace rl {

struct row_sampling {
    float temperature = 0.f;  // 0: argmax (lowest id on ties)
    int32_t top_k = 0;        // 0: off
    float top_p = 1.f;        // 1: off
    float min_p = 0.f;        // 0: off
    float u = 0.f;            // the draw, in [0, 1)
};

/// Order-preserving map of a float to uint32 (NaN and -inf map to 0, below every finite value).
inline uint32_t sampling_key(float f) {
    if (f != f) return 0;
    uint32_t b;
    __builtin_memcpy(&b, &f, 4);
    const uint32_t k = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return k == 0x007FFFFFu ? 0 : k;  // -inf
}

/// The token drawn from logits[0, vocab) under p (the host reference of the device kernel).
int32_t sample_row_reference(const float* logits, int vocab, const row_sampling& p);

/// The kept set's threshold key: token i is kept iff sampling_key(logits[i]) >= the result.
uint32_t sampling_threshold(const float* logits, int vocab, const row_sampling& p);

} // namespace rl
