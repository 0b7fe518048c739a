// request and token_event: the typed messages into and out of the engine thread.
#pragma once
#include "serving/sampler.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rl {

enum class finish_reason {
    none,       // still streaming
    stop,       // end-of-generation token
    length,     // max_tokens or the context limit
    cancelled,
    rejected,   // admission control or an invalid request; see token_event::error
    error,      // the backend failed; see token_event::error
};
const char* to_string(finish_reason r);

struct request_stats {
    int prompt_tokens = 0;
    int generated_tokens = 0;
    int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
    double queue_ms = 0;           // submit -> first scheduled
    double ttft_ms = 0;            // submit -> first token
    double decode_tok_s = 0;       // (generated - 1) / (last token - first token)
    double e2e_ms = 0;
};

/// One streamed event. Every request ends with exactly one event whose finish != none.
struct token_event {
    uint64_t request_id = 0;
    int32_t token = -1;            // -1 on a final event that carries no token
    std::string text;              // UTF-8 text this token completes (may be empty)
    finish_reason finish = finish_reason::none;
    std::string error;             // human-readable reason for rejected/error
    request_stats stats;           // filled on the final event
    /// With request::logprobs >= 0, on every event that carries a token: its log-probability and
    /// the top alternatives (sampler::sample says of which distribution). Empty otherwise.
    std::optional<token_logprobs> logprobs;
    /// Prefill progress, only for requests with report_progress: an event with token -1, no text
    /// and finish none, sent as each prefill chunk of the request starts, so a chat can say
    /// "processing prompt 34%" rather than nothing. Prompt tokens with KV before the chunk
    /// (prefix-cache hits included) of prompt_total; -1 on every other event.
    int prompt_computed = -1;
    int prompt_total = 0;
};

/// Called on the engine thread: keep it short (copy, post to your own queue, return).
using event_sink = std::function<void(const token_event&)>;

/// Conversation ids carry who owns them in their top bits (the KV map and metrics colour by it):
/// plain ids are the person in the window; virtual users and API clients set these bits.
constexpr uint64_t kOwnerVirtualBit = uint64_t(1) << 62;
constexpr uint64_t kOwnerApiBit = uint64_t(1) << 61;
constexpr uint64_t kOwnerAnonymousBit = uint64_t(1) << 60;  // requests without a conversation
enum class owner_kind : uint8_t { person, virtual_user, api, anonymous };
inline owner_kind owner_kind_of(uint64_t owner) {
    if (owner & kOwnerVirtualBit) return owner_kind::virtual_user;
    if (owner & kOwnerApiBit) return owner_kind::api;
    if (owner & kOwnerAnonymousBit) return owner_kind::anonymous;
    return owner_kind::person;
}

struct request {
    uint64_t conversation_id = 0;
    std::vector<int32_t> prompt;   // already tokenized (templates are rendered at the edges)
    sampling_params sampling;
    int max_tokens = 256;
    int priority = 0;              // higher runs first under the priority policy
    bool ignore_eos = false;       // keep generating past end-of-generation (benchmarks, virtual users)
    bool report_progress = false;  // also send prefill progress events (token_event::prompt_computed)
    int logprobs = -1;             // -1: none; 0..20: each token's log-probability and this many alternatives
    /// Restricts the tokens that may come next (e.g. to valid JSON); owned by this request alone.
    std::shared_ptr<token_constraint> constraint;
    event_sink on_event;
};

} // namespace rl
