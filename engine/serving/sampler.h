// sampler: turns one row of logits into a token id. Pure and deterministic given the seed.
// Order (as llama.cpp's default chain): repetition penalty, top-k, top-p, min-p, temperature, draw.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace rl {

struct sampling_params {
    float temperature = 0.f;          // 0 => greedy
    int top_k = 0;                    // 0 => off
    float top_p = 1.f;                // 1 => off
    float min_p = 0.f;                // 0 => off
    float repetition_penalty = 1.f;   // 1 => off
    int repetition_window = 64;       // last N tokens penalised
    uint64_t seed = 0;
};

/// Returns an error message for invalid settings, empty if they are valid.
std::string validate(const sampling_params& p);

class sampler {
public:
    explicit sampler(const sampling_params& p);
    /// history: the sequence's tokens so far (prompt + generated), for the repetition penalty.
    int32_t sample(const float* logits, int n_vocab, const std::vector<int32_t>& history);
    const sampling_params& params() const { return params_; }
    /// The next uniform draw in [0, 1) from this sampler's seeded stream (for a draw made elsewhere,
    /// e.g. on the GPU: backend::sample_rows).
    float uniform();

private:
    double uniform53();  // the next draw in [0, 1) with 53 random bits
    sampling_params params_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;  // scratch
};

} // namespace rl
