// sequence: one request's life inside the engine thread: its tokens (prompt, then generated),
// how many have KV in the cache, its block table, sampler and stream decoder, and its timings.
#pragma once
#include "serving/block_manager.h"
#include "serving/request.h"
#include "backend/row_sampling.h"
#include "serving/sampler.h"
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace rl {

using clock_type = std::chrono::steady_clock;

struct sequence {
    sequence(uint64_t id_, request r, clock_type::time_point submitted_, const tokenizer* tok = nullptr)
        : id(id_), req(std::move(r)), submitted(submitted_), smp(req.sampling) {
        if (tok) decoder = std::make_unique<utf8_stream_decoder>(*tok);
        tokens = req.prompt;
        prompt_len = int(tokens.size());
    }

    int generated() const { return int(tokens.size()) - prompt_len; }
    /// Who owns this sequence's blocks: its conversation, or the request itself when anonymous.
    uint64_t owner() const { return req.conversation_id ? req.conversation_id : (kOwnerAnonymousBit | id); }

    int32_t sample(const float* logits, int vocab) {
        sample_context ctx;
        ctx.n_prompt = size_t(prompt_len);
        ctx.constraint = req.constraint.get();
        ctx.top_logprobs = req.logprobs;
        ctx.logprobs = &last_logprobs;
        const int32_t t = smp.sample(logits, vocab, tokens, ctx);
        if (req.constraint) req.constraint->accept(t);
        return accept(t);
    }
    /// Needs the whole row of logits on the host: penalties and bias (they need the history or a
    /// table the device kernels do not take), a constraint's mask, or log-probabilities.
    bool needs_host_logits() const {
        const sampling_params& p = req.sampling;
        return p.repetition_penalty != 1.f || p.presence_penalty != 0.f || p.frequency_penalty != 0.f ||
               !p.logit_bias.empty() || req.constraint || req.logprobs >= 0;
    }
    /// Plain greedy is the argmax of the raw logits, which the backend can take on the device
    /// (only the token id crosses to the host).
    bool device_greedy_ok() const { return req.sampling.temperature == 0.f && !needs_host_logits(); }
    /// Temperature, top-k, top-p and min-p can be drawn on the device.
    bool device_sample_ok() const { return !needs_host_logits(); }
    /// The parameters of this sequence's next draw on the device (takes one uniform from its stream).
    row_sampling device_sampling() {
        const sampling_params& p = req.sampling;
        return row_sampling{p.temperature, p.top_k, p.top_p, p.min_p, p.temperature > 0.f ? smp.uniform() : 0.f};
    }
    /// Records a token chosen elsewhere (the device argmax) as if sample() had drawn it.
    int32_t accept(int32_t t) {
        const auto now = clock_type::now();
        if (generated() == 0) first_token = now;
        last_token = now;
        tokens.push_back(t);
        return t;
    }

    request_stats stats(clock_type::time_point now) const {
        using ms = std::chrono::duration<double, std::milli>;
        request_stats st;
        st.prompt_tokens = prompt_len;
        st.generated_tokens = generated();
        st.cached_prompt_tokens = cached_prompt_tokens;
        if (first_scheduled != clock_type::time_point{}) st.queue_ms = ms(first_scheduled - submitted).count();
        if (generated() > 0) st.ttft_ms = ms(first_token - submitted).count();
        if (generated() > 1) {
            const double s = ms(last_token - first_token).count() / 1000.0;
            st.decode_tok_s = s > 0 ? (generated() - 1) / s : 0;
        }
        st.e2e_ms = ms(now - submitted).count();
        return st;
    }

    uint64_t id;
    request req;
    clock_type::time_point submitted, first_scheduled{}, first_token{}, last_token{};
    std::vector<int32_t> tokens;
    int prompt_len = 0;
    int n_computed = 0;                // tokens whose K/V are in the cache
    int scheduled = 0;                 // tokens in the step being built
    int cached_prompt_tokens = 0;      // prompt tokens served from the prefix cache at first admission
    int preemptions = 0;
    int computed_before = 0;           // tokens that had KV before the last preemption (recompute cost)
    bool admitted_once = false;
    std::vector<int32_t> block_table;
    block_manager::commit_cursor committed;  // reset with each new table (scheduler::admit_prefix)
    finish_reason pending_finish = finish_reason::none;
    sampler smp;
    token_logprobs last_logprobs;      // of the latest host draw, when req.logprobs >= 0
    std::unique_ptr<utf8_stream_decoder> decoder;  // null in scheduler tests
};

} // namespace rl
