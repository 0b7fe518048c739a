// sampler: turns one row of logits into a token id, and optionally reports log-probabilities.
// Pure and deterministic given the seed. Order (as llama.cpp's default chain): repetition penalty,
// presence and frequency penalties, logit bias, the constraint's mask (grammar-constrained
// sampling), then top-k, top-p, min-p, temperature, draw.
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
    // OpenAI's penalties, over the generated tokens only (not the prompt): a token's logit loses
    // presence_penalty once if it was generated, and frequency_penalty per time it was.
    float presence_penalty = 0.f;     // -2..2; 0 => off
    float frequency_penalty = 0.f;    // -2..2; 0 => off
    std::vector<std::pair<int32_t, float>> logit_bias = {};  // (token id, -100..100) added to its logit
};

/// What a draw reports when log-probabilities are asked for: natural logs under the distribution
/// the token was drawn from (see sampler::sample).
struct token_logprobs {
    float logprob = 0.f;                          // of the chosen token
    std::vector<std::pair<int32_t, float>> top;   // the most likely tokens, most likely first
};

/// Restricts which tokens may come next (grammar-constrained sampling). Stateful: one per sequence.
class token_constraint {
public:
    virtual ~token_constraint() = default;
    /// Sets the logit of every token that may not come next to -infinity. Leaves at least one.
    virtual void mask(float* logits, int n_vocab) = 0;
    /// The token that was chosen.
    virtual void accept(int32_t token) = 0;
};

/// The per-call inputs of sampler::sample beyond the logits and history.
struct sample_context {
    size_t n_prompt = 0;                  // history[0, n_prompt) is the prompt (not penalised by presence/frequency)
    token_constraint* constraint = nullptr;
    int top_logprobs = -1;                // -1: no log-probabilities; else report this many alternatives too
    token_logprobs* logprobs = nullptr;   // filled when top_logprobs >= 0
};

/// Returns an error message for invalid settings, empty if they are valid.
std::string validate(const sampling_params& p);

class sampler {
public:
    explicit sampler(const sampling_params& p);
    /// history: the sequence's tokens so far (prompt + generated), for the penalties.
    /// Log-probabilities (ctx.top_logprobs >= 0) are those of the distribution the draw used: the
    /// logits after penalties, bias and mask, scaled by the temperature, renormalised over the
    /// tokens top-k / top-p / min-p kept (others are never listed). Greedy (temperature 0) reports
    /// the same at temperature 1, untruncated, since its own distribution is a point mass.
    int32_t sample(const float* logits, int n_vocab, const std::vector<int32_t>& history,
                   const sample_context& ctx = {});
    const sampling_params& params() const { return params_; }
    /// The next uniform draw in [0, 1) from this sampler's seeded stream (for a draw made elsewhere,
    /// e.g. on the GPU: backend::sample_rows).
    float uniform();

private:
    double uniform53();  // the next draw in [0, 1) with 53 random bits
    void process(const float* logits, int n_vocab, const std::vector<int32_t>& history, const sample_context& ctx);
    sampling_params params_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;  // scratch
    std::vector<float> proc_;                      // scratch: the logits after penalties, bias and mask
};

} // namespace rl
