// generation.cpp: see generation.h.
#include "server/generation.h"

#include "tokenizer/tokenizer.h"

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

struct generation_group::choice {
    explicit choice(std::vector<std::string> stops) : stop(std::move(stops)) {}
    request req;                       // until submitted
    bool submitted = false, finished = false, counts_prompt = true;
    uint64_t id = 0, owner = 0;
    int prompt_tokens = 0, completion_tokens = 0;
    stop_matcher stop;
    size_t received = 0, emitted = 0;  // bytes of text into / out of the stop matcher
    std::deque<std::pair<token_report, size_t>> pending;  // reports not yet released, with their text's end
};

generation_group::generation_group(engine& eng, const tokenizer& tok, std::vector<std::string> stops,
                                   stop_hook on_stop, submit_hook on_submit)
    : engine_(eng), tok_(tok), stops_(std::move(stops)), on_stop_(std::move(on_stop)),
      on_submit_(std::move(on_submit)) {}

generation_group::~generation_group() { cancel(); }

void generation_group::add_prompt(std::vector<request> reqs) {
    std::vector<size_t> indices;
    for (size_t i = 0; i < reqs.size(); ++i) {
        auto c = std::make_unique<choice>(stops_);
        c->owner = reqs[i].conversation_id;
        c->prompt_tokens = int(reqs[i].prompt.size());
        c->counts_prompt = i == 0;
        // The sink holds the queue, not this object: events after we are gone land harmlessly.
        reqs[i].on_event = [q = queue_](const token_event& e) { q->push(e); };
        c->req = std::move(reqs[i]);
        indices.push_back(choices_.size());
        choices_.push_back(std::move(c));
        ++unfinished_;
    }
    if (indices.size() <= 1) return submit(indices);
    // The leader: the prompt and one greedy token (not reported), under the first choice's owner.
    request lead;
    lead.conversation_id = choices_[indices[0]]->req.conversation_id;
    lead.prompt = choices_[indices[0]]->req.prompt;
    lead.max_tokens = 1;
    lead.on_event = [q = queue_](const token_event& e) { q->push(e); };
    leaders_.push_back({engine_.submit(std::move(lead)), std::move(indices), false});
    if (on_submit_) on_submit_(leaders_.back().id);
}

void generation_group::submit(const std::vector<size_t>& indices) {
    std::vector<request> reqs;
    std::vector<size_t> which;
    for (size_t i : indices) {
        choice& c = *choices_[i];
        if (c.submitted || c.finished) continue;
        c.submitted = true;
        reqs.push_back(std::move(c.req));
        which.push_back(i);
    }
    if (reqs.empty()) return;
    const std::vector<uint64_t> ids = engine_.submit_all(std::move(reqs));
    for (size_t k = 0; k < which.size(); ++k) {
        choices_[which[k]]->id = ids[k];
        if (on_submit_) on_submit_(ids[k]);
    }
}

void generation_group::cancel() {
    cancelled_ = true;
    for (auto& l : leaders_)
        if (!l.done) engine_.cancel(l.id), l.done = true;
    for (auto& c : choices_) {
        if (c->finished) continue;
        c->finished = true;
        if (c->submitted) engine_.cancel(c->id);
    }
    unfinished_ = 0;
}

int generation_group::prompt_tokens() const {
    int n = 0;
    for (const auto& c : choices_) n += c->counts_prompt ? c->prompt_tokens : 0;
    return n;
}

int generation_group::completion_tokens() const {
    int n = 0;
    for (const auto& c : choices_) n += c->completion_tokens;
    return n;
}

bool generation_group::poll(std::vector<generation_step>& out, std::chrono::milliseconds timeout) {
    token_event e;
    if (finished() || !queue_->pop_for(e, timeout)) return false;
    do {
        bool led = false;
        for (auto& l : leaders_) {
            if (l.id != e.request_id || l.done) continue;
            led = true;
            if (e.finish == finish_reason::none) break;
            l.done = true;
            if (e.finish == finish_reason::stop || e.finish == finish_reason::length) {
                if (!cancelled_) submit(l.waiting);   // its prompt's blocks are cached now: start together
                break;
            }
            // Rejected, cancelled or failed: its choices end the same way, never submitted.
            for (size_t i : l.waiting) {
                choice& c = *choices_[i];
                if (c.finished) continue;
                c.finished = true;
                --unfinished_;
                generation_step st;
                st.index = i;
                st.finished = true;
                st.rejected = e.finish == finish_reason::rejected;
                st.failed = !st.rejected;
                st.error = !e.error.empty() ? e.error : st.rejected ? "rejected" : "request cancelled";
                out.push_back(std::move(st));
            }
        }
        if (led) continue;
        size_t index = choices_.size();
        for (size_t i = 0; i < choices_.size(); ++i)
            if (choices_[i]->submitted && choices_[i]->id == e.request_id) index = i;
        if (index == choices_.size() || choices_[index]->finished) continue;  // e.g. after a stop string
        choice& c = *choices_[index];
        generation_step* step = nullptr;
        for (auto& s : out)
            if (s.index == index) step = &s;
        if (!step) {
            out.emplace_back();
            step = &out.back();
            step->index = index;
        }
        handle(c, e, *step);
    } while (!finished() && queue_->pop_for(e, std::chrono::milliseconds(0)));
    return true;
}

void generation_group::handle(choice& c, const token_event& e, generation_step& out) {
    auto emit = [&](const std::string& text) {
        out.text += text;
        c.emitted += text.size();
    };
    // A token's report goes out with the text it completes; after a stop string, only the tokens
    // whose text starts before it.
    auto release = [&](bool all) {
        while (!c.pending.empty()) {
            const auto& [r, end] = c.pending.front();
            const bool out_now = c.stop.stopped() ? r.text_offset < c.emitted : (all || end <= c.emitted);
            if (!out_now) break;
            out.tokens.push_back(r);
            c.pending.pop_front();
        }
        if (all) c.pending.clear();
    };
    auto end = [&]() {
        c.finished = true;
        --unfinished_;
        out.finished = true;
    };
    if (e.finish == finish_reason::none) {
        if (e.token < 0) return;  // prefill progress
        ++c.completion_tokens;
        if (e.logprobs && !tok_.is_end_of_generation(e.token)) {
            token_report r{e.token, e.logprobs->logprob, e.logprobs->top, c.received};
            c.pending.emplace_back(std::move(r), c.received + e.text.size());
        }
        c.received += e.text.size();
        emit(c.stop.feed(e.text));
        if (c.stop.stopped()) {
            if (on_stop_) on_stop_(c.owner);
            engine_.cancel(c.id);
            release(true);
            end();
            out.finish_reason = "stop";
        } else {
            release(false);
        }
        return;
    }
    c.received += e.text.size();
    emit(c.stop.feed(e.text));
    if (!c.stop.stopped()) emit(c.stop.flush());
    else if (on_stop_) on_stop_(c.owner);  // the stop string was completed by the final flush
    release(true);
    end();
    switch (e.finish) {
    case finish_reason::stop: out.finish_reason = "stop"; break;
    case finish_reason::length: out.finish_reason = c.stop.stopped() ? "stop" : "length"; break;
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
