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
    std::vector<size_t> waiting;       // choices submitted at this one's first event
    bool submitted = false, got_first = false, finished = false, counts_prompt = true;
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

size_t generation_group::add(request req, std::optional<size_t> after) {
    const size_t index = choices_.size();
    auto c = std::make_unique<choice>(stops_);
    c->owner = req.conversation_id;
    c->prompt_tokens = int(req.prompt.size());
    c->counts_prompt = !after;
    // The sink holds the queue, not this object: events after we are gone land harmlessly.
    req.on_event = [q = queue_](const token_event& e) { q->push(e); };
    c->req = std::move(req);
    choices_.push_back(std::move(c));
    ++unfinished_;
    if (after && *after < index && !choices_[*after]->got_first && !choices_[*after]->finished)
        choices_[*after]->waiting.push_back(index);
    else
        submit(index);
    return index;
}

void generation_group::submit(size_t index) {
    choice& c = *choices_[index];
    if (c.submitted || c.finished) return;
    c.submitted = true;
    c.id = engine_.submit(std::move(c.req));
    if (on_submit_) on_submit_(c.id);
}

void generation_group::cancel() {
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
        if (!c.got_first && (e.token >= 0 || e.finish != finish_reason::none)) {
            c.got_first = true;
            for (size_t w : c.waiting) submit(w);  // the prompt's blocks are cached now
        }
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
