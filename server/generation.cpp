// generation.cpp: see generation.h.
#include "server/generation.h"

#include <algorithm>

StopMatcher::StopMatcher(std::vector<std::string> stops) : mStops(std::move(stops)) {
    mStops.erase(std::remove(mStops.begin(), mStops.end(), std::string()), mStops.end());
    for (const auto& s : mStops) mHold = std::max(mHold, s.size() - 1);
}

std::string StopMatcher::feed(const std::string& piece) {
    if (mStopped) return {};
    mPending += piece;
    size_t first = std::string::npos;
    for (const auto& s : mStops) first = std::min(first, mPending.find(s));
    if (first != std::string::npos) {
        mStopped = true;
        std::string out = mPending.substr(0, first);
        mPending.clear();
        return out;
    }
    // Everything but the last mHold bytes is safe: a match starting there would already be complete.
    size_t safe = mPending.size() > mHold ? mPending.size() - mHold : 0;
    while (safe > 0 && safe < mPending.size() && (static_cast<unsigned char>(mPending[safe]) & 0xC0) == 0x80) --safe;
    std::string out = mPending.substr(0, safe);
    mPending.erase(0, safe);
    return out;
}

std::string StopMatcher::flush() {
    std::string out;
    if (!mStopped) out.swap(mPending);
    mPending.clear();
    return out;
}

void EventQueue::push(const rl::token_event& e) {
    {
        std::lock_guard lk(mMutex);
        mEvents.push_back(e);
    }
    mCv.notify_one();
}

bool EventQueue::popFor(rl::token_event& out, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mMutex);
    if (!mCv.wait_for(lk, timeout, [this] { return !mEvents.empty(); })) return false;
    out = std::move(mEvents.front());
    mEvents.pop_front();
    return true;
}

Generation::Generation(rl::engine& eng, rl::request req, std::vector<std::string> stops, StopHook onStop)
    : mEngine(eng), mStop(std::move(stops)), mOnStop(std::move(onStop)) {
    mOwner = req.conversation_id;
    mPromptTokens = int(req.prompt.size());
    // The sink holds the queue, not this object: events after we are gone land harmlessly.
    req.on_event = [q = mQueue](const rl::token_event& e) { q->push(e); };
    mId = mEngine.submit(std::move(req));
}

Generation::~Generation() { cancel(); }

void Generation::cancel() {
    if (mFinished) return;
    mFinished = true;
    mEngine.cancel(mId);
}

bool Generation::poll(GenerationStep& out, std::chrono::milliseconds timeout) {
    out = GenerationStep{};
    if (mFinished) {
        out.finished = true;
        return true;
    }
    rl::token_event e;
    if (!mQueue->popFor(e, timeout)) return false;
    handle(e, out);
    // Drain what else is already there without waiting, so one poll carries a burst of tokens.
    while (!out.finished && mQueue->popFor(e, std::chrono::milliseconds(0))) handle(e, out);
    return true;
}

void Generation::handle(const rl::token_event& e, GenerationStep& out) {
    using rl::finish_reason;
    if (e.finish == finish_reason::none) {
        if (e.token >= 0) ++mCompletionTokens;
        out.text += mStop.feed(e.text);
        if (mStop.stopped()) {
            if (mOnStop) mOnStop(mOwner);
            mEngine.cancel(mId);
            mFinished = true;
            out.finished = true;
            out.finishReason = "stop";
        }
        return;
    }
    out.text += mStop.feed(e.text);
    if (!mStop.stopped()) out.text += mStop.flush();
    else if (mOnStop) mOnStop(mOwner);  // the stop string was completed by the final flush
    mFinished = true;
    out.finished = true;
    switch (e.finish) {
    case finish_reason::stop: out.finishReason = "stop"; break;
    case finish_reason::length: out.finishReason = mStop.stopped() ? "stop" : "length"; break;
    case finish_reason::rejected:
        out.rejected = true;
        out.error = e.error;
        break;
    case finish_reason::cancelled:
        out.failed = true;
        out.error = e.error.empty() ? "request cancelled" : e.error;
        break;
    default:
        out.failed = true;
        out.error = e.error.empty() ? "generation failed" : e.error;
        break;
    }
}
