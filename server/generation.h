// generation: one API request's life in the engine, seen from an HTTP worker thread. Submits one
// engine request per choice, receives their token_events through one small blocking queue (the
// engine thread only pushes), applies stop strings and cancels an engine request when the client
// goes away or a stop string matches. stop_matcher holds back just enough text to never emit part
// of a stop string; a token's log-probabilities are released with the text they complete.
// Exercised by tests/test_serve.cpp.
#pragma once
#include "runtime/engine.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rl {

/// Finds the first of several stop strings in a stream of text pieces.
class stop_matcher {
public:
    explicit stop_matcher(std::vector<std::string> stops);
    /// Adds a piece; returns the text that is now safe to emit (never a prefix of a stop string,
    /// never a split UTF-8 character). After a match, stopped() is true and the rest is dropped.
    std::string feed(const std::string& piece);
    /// The held-back text, at the end of generation.
    std::string flush();
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    size_t hold_ = 0;        // longest stop string - 1
    std::string pending_;
    bool stopped_ = false;
};

/// Events for one request, handed from the engine thread to one HTTP worker.
class event_queue {
public:
    void push(const token_event& e);
    /// Waits up to `timeout`; false when nothing arrived.
    bool pop_for(token_event& out, std::chrono::milliseconds timeout);

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<token_event> events_;
};

/// One generated token as a response reports it, when log-probabilities were asked for.
struct token_report {
    int32_t token = -1;
    float logprob = 0.f;
    std::vector<std::pair<int32_t, float>> top;  // alternatives, most likely first
    size_t text_offset = 0;                      // where its text starts in the choice's output
};

/// What one poll produced for one choice.
struct generation_step {
    size_t index = 0;              // the choice
    std::string text;              // new output text (may be empty)
    std::vector<token_report> tokens;  // with log-probabilities: the tokens whose text `text` completes
    bool finished = false;
    std::string finish_reason;     // "stop" | "length" when finished normally
    bool rejected = false;         // admission control or an invalid request (nothing generated)
    bool failed = false;           // backend error, or the engine stopped
    std::string error;             // reason for rejected / failed
};

/// Every choice of one API request (n per prompt, prompts of a batch): one engine request each,
/// all feeding one event queue that the request's HTTP worker drains.
class generation_group {
public:
    /// Called with the owner id before an engine request is cancelled because a stop string
    /// matched, so metrics can count it as finished rather than cancelled.
    using stop_hook = std::function<void(uint64_t owner)>;
    /// Called with each engine request id as it is submitted (the server's count of requests in flight).
    using submit_hook = std::function<void(uint64_t request_id)>;

    /// tok: for telling end-of-generation tokens apart (they are never reported as log-probabilities).
    generation_group(engine& eng, const tokenizer& tok, std::vector<std::string> stops, stop_hook on_stop,
                     submit_hook on_submit);
    /// Cancels every engine request that has not finished (a client that went away, a shutdown).
    ~generation_group();
    generation_group(const generation_group&) = delete;
    generation_group& operator=(const generation_group&) = delete;

    /// Adds the choices of one prompt, indexed after those already added (their on_event is
    /// replaced; conversation_id must already carry the owner bits). With more than one, a
    /// one-token request computes the prompt first, and the choices are submitted together when it
    /// ends: each reuses the prompt's full KV blocks from the prefix cache, and they decode in the
    /// same steps from the first, so a seeded request repeats choice by choice.
    void add_prompt(std::vector<request> choices);
    /// Handles every event available within `timeout`; appends one step per choice that changed.
    bool poll(std::vector<generation_step>& out, std::chrono::milliseconds timeout);
    void cancel();

    bool finished() const { return unfinished_ == 0; }
    size_t size() const { return choices_.size(); }
    /// Usage: each prompt counted once (as OpenAI counts it for n > 1), every choice's tokens.
    int prompt_tokens() const;
    int completion_tokens() const;

private:
    struct choice;
    struct leader {
        uint64_t id = 0;
        std::vector<size_t> waiting;   // choices submitted when it ends
        bool done = false;
    };
    void submit(const std::vector<size_t>& indices);
    void handle(choice& c, const token_event& e, generation_step& out);

    engine& engine_;
    const tokenizer& tok_;
    std::vector<std::string> stops_;
    stop_hook on_stop_;
    submit_hook on_submit_;
    std::shared_ptr<event_queue> queue_ = std::make_shared<event_queue>();
    std::vector<std::unique_ptr<choice>> choices_;
    std::vector<leader> leaders_;
    bool cancelled_ = false;
    size_t unfinished_ = 0;
};

} // namespace rl
