// sampler.cpp: see sampler.h. Filters work on (logit, id) candidates; only as much of the
// vocabulary is sorted as the filters need (partial sorts), so 150k-entry vocabularies stay cheap.
// Tested by test_sampler.
#include "serving/sampler.h"

#include "common/engine_error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

namespace rl {
namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

bool by_logit_desc(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
}

} // namespace

std::string validate(const sampling_params& p) {
    if (!(p.temperature >= 0.f) || !std::isfinite(p.temperature))
        return "temperature must be a finite number >= 0 (got " + num(p.temperature) + ")";
    if (p.top_k < 0) return "top_k must be >= 0 (0 disables it; got " + std::to_string(p.top_k) + ")";
    if (!(p.top_p > 0.f && p.top_p <= 1.f)) return "top_p must be in (0, 1] (got " + num(p.top_p) + ")";
    if (!(p.min_p >= 0.f && p.min_p < 1.f)) return "min_p must be in [0, 1) (got " + num(p.min_p) + ")";
    if (!(p.repetition_penalty > 0.f) || !std::isfinite(p.repetition_penalty))
        return "repetition_penalty must be > 0 (1 disables it; got " + num(p.repetition_penalty) + ")";
    if (p.repetition_window < 0)
        return "repetition_window must be >= 0 (got " + std::to_string(p.repetition_window) + ")";
    if (!(p.presence_penalty >= -2.f && p.presence_penalty <= 2.f))
        return "presence_penalty must be in [-2, 2] (got " + num(p.presence_penalty) + ")";
    if (!(p.frequency_penalty >= -2.f && p.frequency_penalty <= 2.f))
        return "frequency_penalty must be in [-2, 2] (got " + num(p.frequency_penalty) + ")";
    for (const auto& [id, bias] : p.logit_bias)
        if (id < 0 || !(bias >= -100.f && bias <= 100.f))
            return "logit_bias entries must map a token id >= 0 to a bias in [-100, 100] (got " + std::to_string(id) +
                   ": " + num(bias) + ")";
    return {};
}

sampler::sampler(const sampling_params& p) : params_(p), rng_(p.seed) {
    if (auto why = validate(p); !why.empty()) RL_THROW("invalid sampling parameters: " + why);
}

double sampler::uniform53() { return double(rng_() >> 11) * 0x1.0p-53; }

float sampler::uniform() {
    const float u = float(uniform53());
    return u < 1.f ? u : 0.99999994f;  // rounding to float may reach 1
}

void sampler::process(const float* logits, int n_vocab, const std::vector<int32_t>& history, const sample_context& ctx) {
    const sampling_params& p = params_;
    proc_.assign(logits, logits + n_vocab);
    // Repetition penalty (llama.cpp style): each distinct token of the recent window is made less
    // likely once, by dividing a positive logit or multiplying a negative one.
    if (p.repetition_penalty != 1.f && p.repetition_window > 0) {
        std::unordered_set<int32_t> penalised;
        const size_t from = history.size() > size_t(p.repetition_window) ? history.size() - size_t(p.repetition_window) : 0;
        for (size_t i = from; i < history.size(); ++i)
            if (history[i] >= 0 && history[i] < n_vocab) penalised.insert(history[i]);
        for (int32_t id : penalised) {
            float& l = proc_[size_t(id)];
            l = l > 0.f ? l / p.repetition_penalty : l * p.repetition_penalty;
        }
    }
    // OpenAI's presence and frequency penalties, over the generated tokens.
    if (p.presence_penalty != 0.f || p.frequency_penalty != 0.f) {
        std::unordered_map<int32_t, int> count;
        for (size_t i = std::min(ctx.n_prompt, history.size()); i < history.size(); ++i)
            if (history[i] >= 0 && history[i] < n_vocab) ++count[history[i]];
        for (const auto& [id, c] : count)
            proc_[size_t(id)] -= float(c) * p.frequency_penalty + p.presence_penalty;
    }
    for (const auto& [id, bias] : p.logit_bias)
        if (id >= 0 && id < n_vocab) proc_[size_t(id)] += bias;
    if (ctx.constraint) ctx.constraint->mask(proc_.data(), n_vocab);
}

int32_t sampler::sample(const float* logits, int n_vocab, const std::vector<int32_t>& history,
                        const sample_context& ctx) {
    RL_CHECK(logits != nullptr && n_vocab > 0, "sampler: empty logits");
    const sampling_params& p = params_;
    process(logits, n_vocab, history, ctx);
    const bool want_lp = ctx.top_logprobs >= 0 && ctx.logprobs;
    const size_t n_top = want_lp ? size_t(ctx.top_logprobs) : 0;
    if (want_lp) *ctx.logprobs = token_logprobs{};

    // Greedy: argmax, ties to the lowest id. The penalties still apply, as in llama.cpp's chain.
    if (p.temperature == 0.f) {
        int32_t best = 0;
        float bv = proc_[0];
        for (int32_t i = 1; i < n_vocab; ++i)
            if (proc_[size_t(i)] > bv) bv = proc_[size_t(i)], best = i;
        if (want_lp) {
            // The distribution at temperature 1 over the whole vocabulary (its argmax is `best`).
            double z = 0.0;
            for (int32_t i = 0; i < n_vocab; ++i) z += std::exp(double(proc_[size_t(i)] - bv));
            const double log_z = double(bv) + std::log(z);
            ctx.logprobs->logprob = float(double(bv) - log_z);
            cand_.resize(size_t(n_vocab));
            for (int32_t i = 0; i < n_vocab; ++i) cand_[size_t(i)] = {proc_[size_t(i)], i};
            const size_t k = std::min(n_top, cand_.size());
            std::partial_sort(cand_.begin(), cand_.begin() + std::ptrdiff_t(k), cand_.end(), by_logit_desc);
            for (size_t i = 0; i < k; ++i)
                if (std::isfinite(cand_[i].first))
                    ctx.logprobs->top.emplace_back(cand_[i].second, float(double(cand_[i].first) - log_z));
        }
        return best;
    }

    cand_.resize(size_t(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) cand_[size_t(i)] = {proc_[size_t(i)], i};
    size_t n = cand_.size();
    size_t sorted = 0;  // cand_[0, sorted) is in descending order and holds the largest logits

    auto sort_prefix = [&](size_t k) {
        k = std::min(k, n);
        if (k <= sorted) return;
        std::partial_sort(cand_.begin(), cand_.begin() + std::ptrdiff_t(k), cand_.begin() + std::ptrdiff_t(n), by_logit_desc);
        sorted = k;
    };

    if (p.top_k > 0 && size_t(p.top_k) < n) {
        sort_prefix(size_t(p.top_k));
        n = size_t(p.top_k);
    }
    sort_prefix(1);
    const float max_logit = cand_[0].first;

    if (p.top_p < 1.f) {
        // Probabilities before temperature (llama.cpp applies top-p ahead of temperature). Grow the
        // sorted prefix until it holds top_p of the mass: usually a few hundred entries at most.
        double z = 0.0;
        for (size_t i = 0; i < n; ++i) z += std::exp(double(cand_[i].first - max_logit));
        double cum = 0.0;
        size_t i = 0, keep = n;
        for (size_t want = 64;; want *= 4) {
            sort_prefix(want);
            for (; i < sorted; ++i) {
                cum += std::exp(double(cand_[i].first - max_logit)) / z;
                if (cum >= double(p.top_p)) break;
            }
            if (i < sorted) {
                keep = i + 1;
                break;
            }
            if (sorted >= n) break;
        }
        n = std::max<size_t>(1, keep);
    }

    if (p.min_p > 0.f) {
        // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p); order is preserved.
        const float thr = max_logit + std::log(p.min_p);
        const auto end = std::stable_partition(cand_.begin(), cand_.begin() + std::ptrdiff_t(n),
                                               [&](const auto& c) { return c.first >= thr; });
        n = std::max<size_t>(1, size_t(end - cand_.begin()));
    }

    // Temperature, softmax and one draw from the seeded generator (53-bit uniform in [0, 1)).
    const double inv_t = 1.0 / double(p.temperature);
    double z = 0.0;
    std::vector<double> w(n);
    for (size_t i = 0; i < n; ++i) z += (w[i] = std::exp(double(cand_[i].first - max_logit) * inv_t));
    const double u = uniform53() * z;
    double acc = 0.0;
    size_t chosen = 0;
    for (size_t i = 0; i < n; ++i) {
        if (w[i] > 0.0) chosen = i;  // rounding past the end falls back to the last possible token
        acc += w[i];
        if (u < acc) break;
    }
    const int32_t token = cand_[chosen].second;
    if (want_lp) {
        // log softmax over the kept set at this temperature: (l - max) / T - log z.
        const double log_z = std::log(z);
        auto lp = [&](float l) { return float(double(l - max_logit) * inv_t - log_z); };
        ctx.logprobs->logprob = lp(cand_[chosen].first);
        sort_prefix(n_top);  // after the draw, so asking for log-probabilities never changes the token
        for (size_t i = 0; i < std::min(n_top, n); ++i)
            if (std::isfinite(cand_[i].first)) ctx.logprobs->top.emplace_back(cand_[i].second, lp(cand_[i].first));
    }
    return token;
}

} // namespace rl
