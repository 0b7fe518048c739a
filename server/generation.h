// generation: one API request's life in the engine, seen from an HTTP worker thread. Submits the
// request, receives its token_events through a small blocking queue (the engine thread only pushes),
// applies stop strings and cancels the engine request when the client goes away or a stop string
// matches. stop_matcher holds back just enough text to never emit part of a stop string.
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

/// What one poll produced.
struct generation_step {
    std::string text;              // new output text (may be empty)
    bool finished = false;
    std::string finish_reason;     // "stop" | "length" when finished normally
    bool rejected = false;         // admission control or an invalid request (nothing generated)
    bool failed = false;           // backend error, or the engine stopped
    std::string error;             // reason for rejected / failed
};

class generation {
public:
    /// Called with the owner id before the engine request is cancelled because a stop string
    /// matched, so metrics can count it as finished rather than cancelled.
    using stop_hook = std::function<void(uint64_t owner)>;

    /// Submits `req` (its on_event is replaced). conversation_id must already carry the owner bits.
    generation(engine& eng, request req, std::vector<std::string> stops, stop_hook on_stop);
    /// Cancels the engine request if it has not finished (a client that went away, a shutdown).
    ~generation();
    generation(const generation&) = delete;
    generation& operator=(const generation&) = delete;

    /// Handles every event available within `timeout`; false when none arrived.
    bool poll(generation_step& out, std::chrono::milliseconds timeout);
    void cancel();

    uint64_t request_id() const { return id_; }
    uint64_t owner() const { return owner_; }
    bool finished() const { return finished_; }
    int prompt_tokens() const { return prompt_tokens_; }
    int completion_tokens() const { return completion_tokens_; }

private:
    void handle(const token_event& e, generation_step& out);

    engine& engine_;
    std::shared_ptr<event_queue> queue_ = std::make_shared<event_queue>();
    stop_matcher stop_;
    stop_hook on_stop_;
    uint64_t id_ = 0;
    uint64_t owner_ = 0;
    int prompt_tokens_ = 0;
    int completion_tokens_ = 0;
    bool finished_ = false;
};

} // namespace rl
