// generation.cpp: see generation.h.
#include "server/generation.h"

#include <algorithm>

namespace rl {

stop_matcher::stop_matcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
    for (const auto& s : stops_) hold_ = std::max(hold_, s.size() - 1);
}

std::string stop_matcher::feed(const std::string& piece) {
    if (stopped_) return {};
    pending_ += piece;
    size_t first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, pending_.find(s));
    if (first != std::string::npos) {
        stopped_ = true;
        std::string out = pending_.substr(0, first);
        pending_.clear();
        return out;
    }
    // Everything but the last hold_ bytes is safe: a match starting there would already be complete.
    size_t safe = pending_.size() > hold_ ? pending_.size() - hold_ : 0;
    while (safe > 0 && safe < pending_.size() && (static_cast<unsigned char>(pending_[safe]) & 0xC0) == 0x80) --safe;
    std::string out = pending_.substr(0, safe);
    pending_.erase(0, safe);
    return out;
}

std::string stop_matcher::flush() {
    std::string out;
    if (!stopped_) out.swap(pending_);
    pending_.clear();
    return out;
}

void event_queue::push(const token_event& e) {
    {
        std::lock_guard lk(mutex_);
        events_.push_back(e);
    }
    cv_.notify_one();
}

bool event_queue::pop_for(token_event& out, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mutex_);
    if (!cv_.wait_for(lk, timeout, [this] { return !events_.empty(); })) return false;
    out = std::move(events_.front());
    events_.pop_front();
    return true;
}

generation::generation(engine& eng, request req, std::vector<std::string> stops, stop_hook on_stop)
    : engine_(eng), stop_(std::move(stops)), on_stop_(std::move(on_stop)) {
    owner_ = req.conversation_id;
    prompt_tokens_ = int(req.prompt.size());
    // The sink holds the queue, not this object: events after we are gone land harmlessly.
    req.on_event = [q = queue_](const token_event& e) { q->push(e); };
    id_ = engine_.submit(std::move(req));
}

generation::~generation() { cancel(); }

void generation::cancel() {
    if (finished_) return;
    finished_ = true;
    engine_.cancel(id_);
}

bool generation::poll(generation_step& out, std::chrono::milliseconds timeout) {
    out = generation_step{};
    if (finished_) {
        out.finished = true;
        return true;
    }
    token_event e;
    if (!queue_->pop_for(e, timeout)) return false;
    handle(e, out);
    // Drain what else is already there without waiting, so one poll carries a burst of tokens.
    while (!out.finished && queue_->pop_for(e, std::chrono::milliseconds(0))) handle(e, out);
    return true;
}

void generation::handle(const token_event& e, generation_step& out) {
    if (e.finish == finish_reason::none) {
        if (e.token >= 0) ++completion_tokens_;
        out.text += stop_.feed(e.text);
        if (stop_.stopped()) {
            if (on_stop_) on_stop_(owner_);
            engine_.cancel(id_);
            finished_ = true;
            out.finished = true;
            out.finish_reason = "stop";
        }
        return;
    }
    out.text += stop_.feed(e.text);
    if (!stop_.stopped()) out.text += stop_.flush();
    else if (on_stop_) on_stop_(owner_);  // the stop string was completed by the final flush
    finished_ = true;
    out.finished = true;
    switch (e.finish) {
    case finish_reason::stop: out.finish_reason = "stop"; break;
    case finish_reason::length: out.finish_reason = stop_.stopped() ? "stop" : "length"; break;
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

} // namespace rl
