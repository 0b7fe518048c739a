// Generation: one API request's life in the engine, seen from an HTTP worker thread. Submits the
// request, receives its token_events through a small blocking queue (the engine thread only pushes),
// applies stop strings and cancels the engine request when the client goes away or a stop string
// matches. StopMatcher holds back just enough text to never emit part of a stop string.
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

/// Finds the first of several stop strings in a stream of text pieces.
class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops);
    /// Adds a piece; returns the text that is now safe to emit (never a prefix of a stop string,
    /// never a split UTF-8 character). After a match, stopped() is true and the rest is dropped.
    std::string feed(const std::string& piece);
    /// The held-back text, at the end of generation.
    std::string flush();
    bool stopped() const { return mStopped; }

private:
    std::vector<std::string> mStops;
    size_t mHold = 0;        // longest stop string - 1
    std::string mPending;
    bool mStopped = false;
};

/// Events for one request, handed from the engine thread to one HTTP worker.
class EventQueue {
public:
    void push(const rl::token_event& e);
    /// Waits up to `timeout`; false when nothing arrived.
    bool popFor(rl::token_event& out, std::chrono::milliseconds timeout);

private:
    std::mutex mMutex;
    std::condition_variable mCv;
    std::deque<rl::token_event> mEvents;
};

/// What one poll produced.
struct GenerationStep {
    std::string text;              // new output text (may be empty)
    bool finished = false;
    std::string finishReason;      // "stop" | "length" when finished normally
    bool rejected = false;         // admission control or an invalid request (nothing generated)
    bool failed = false;           // backend error, or the engine stopped
    std::string error;             // reason for rejected / failed
};

class Generation {
public:
    /// Called with the owner id before the engine request is cancelled because a stop string
    /// matched, so metrics can count it as finished rather than cancelled.
    using StopHook = std::function<void(uint64_t owner)>;

    /// Submits `req` (its on_event is replaced). conversation_id must already carry the owner bits.
    Generation(rl::engine& eng, rl::request req, std::vector<std::string> stops, StopHook onStop);
    /// Cancels the engine request if it has not finished (a client that went away, a shutdown).
    ~Generation();
    Generation(const Generation&) = delete;
    Generation& operator=(const Generation&) = delete;

    /// Handles every event available within `timeout`; false when none arrived.
    bool poll(GenerationStep& out, std::chrono::milliseconds timeout);
    void cancel();

    uint64_t requestId() const { return mId; }
    uint64_t owner() const { return mOwner; }
    bool finished() const { return mFinished; }
    int promptTokens() const { return mPromptTokens; }
    int completionTokens() const { return mCompletionTokens; }

private:
    void handle(const rl::token_event& e, GenerationStep& out);

    rl::engine& mEngine;
    std::shared_ptr<EventQueue> mQueue = std::make_shared<EventQueue>();
    StopMatcher mStop;
    StopHook mOnStop;
    uint64_t mId = 0;
    uint64_t mOwner = 0;
    int mPromptTokens = 0;
    int mCompletionTokens = 0;
    bool mFinished = false;
};
