// scheduler.cpp: see scheduler.h. Ranking: under `priority`, higher priority first; ties (and
// all of `fcfs`) by submission time. The lowest-ranked running sequence is the preemption victim.
#include "serving/scheduler.h"

#include "common/engine_error.h"

#include <algorithm>

namespace rl {

scheduler::scheduler(const serving_config& cfg, block_manager& blocks, int max_context)
    : cfg_(cfg), blocks_(blocks), max_context_(max_context) {}

void scheduler::set_config(const serving_config& cfg) {
    cfg_ = cfg;
    if (blocks_.prefix_caching() != cfg.prefix_caching) blocks_.set_prefix_caching(cfg.prefix_caching);
    // Re-rank the waiting queue under the (possibly new) policy.
    std::stable_sort(waiting_.begin(), waiting_.end(),
                     [this](const auto& a, const auto& b) { return ranks_before(*a, *b); });
}

bool scheduler::ranks_before(const sequence& a, const sequence& b) const {
    if (cfg_.policy == schedule_policy::priority && a.req.priority != b.req.priority)
        return a.req.priority > b.req.priority;
    if (a.submitted != b.submitted) return a.submitted < b.submitted;
    return a.id < b.id;
}

std::string scheduler::add(std::unique_ptr<sequence>& s, clock_type::time_point) {
    const int n = int(s->req.prompt.size());
    if (n == 0) return "empty prompt";
    if (n >= max_context_)
        return "prompt of " + std::to_string(n) + " tokens does not fit the context of " +
               std::to_string(max_context_) + " tokens";
    if (s->req.max_tokens < 1) return "max_tokens must be at least 1";
    if (auto v = validate(s->req.sampling); !v.empty()) return v;
    if (!cfg_.chunked_prefill && n > cfg_.max_num_batched_tokens)
        return "prompt of " + std::to_string(n) + " tokens exceeds max_num_batched_tokens (" +
               std::to_string(cfg_.max_num_batched_tokens) + ") with chunked prefill off";
    if (int(waiting_.size()) >= cfg_.max_waiting) {
        ++counters_.rejected;
        return "at capacity: " + std::to_string(waiting_.size()) + " requests already waiting (max_waiting = " +
               std::to_string(cfg_.max_waiting) + ")";
    }
    auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), s,
                                [this](const auto& a, const auto& b) { return ranks_before(*a, *b); });
    waiting_.insert(pos, std::move(s));
    return "";
}

void scheduler::preempt(size_t i) {
    std::unique_ptr<sequence> s = std::move(running_[i]);
    running_.erase(running_.begin() + long(i));
    s->computed_before = s->n_computed;
    blocks_.release(s->block_table);  // full blocks stay cached: re-admission may hit them
    s->n_computed = 0;
    s->scheduled = 0;
    ++s->preemptions;
    ++counters_.preemptions;
    auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), s,
                                [this](const auto& a, const auto& b) { return ranks_before(*a, *b); });
    waiting_.insert(pos, std::move(s));
}

int scheduler::victim_for(const sequence& needy, size_t from) const {
    int best = -1;
    for (size_t v = from; v < running_.size(); ++v) {
        const sequence& c = *running_[v];
        if (&c == &needy || c.scheduled > 0 || !ranks_before(needy, c)) continue;
        if (best < 0 || ranks_before(*running_[size_t(best)], c)) best = int(v);
    }
    return best;
}

void scheduler::admit_prefix(sequence& s) {
    s.committed = {};  // a new table: the walk starts again
    s.n_computed = blocks_.match_prefix(s.tokens, s.block_table, s.owner());
}

scheduled_step scheduler::schedule(clock_type::time_point now, std::vector<rejection>& rejected) {
    if (cfg_.max_queue_ms > 0) {
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            const double waited = std::chrono::duration<double, std::milli>(now - (*it)->submitted).count();
            if (!(*it)->admitted_once && waited > cfg_.max_queue_ms) {
                ++counters_.rejected;
                rejected.push_back({std::move(*it), "at capacity: waited " + std::to_string(int(waited)) +
                                                        " ms in the queue (max_queue_ms = " +
                                                        std::to_string(int(cfg_.max_queue_ms)) + ")"});
                it = waiting_.erase(it);
            } else {
                ++it;
            }
        }
    }

    scheduled_step step;
    step.input.kv_window = kv_window_;
    int budget = cfg_.max_num_batched_tokens;
    auto take = [&](sequence& s, int n) {
        seq_slice sl;
        sl.token_begin = step.input.n_tokens();
        sl.n_tokens = n;
        sl.start_pos = s.n_computed;
        sl.block_table = s.block_table;
        for (int i = 0; i < n; ++i) {
            step.input.tokens.push_back(s.tokens[size_t(s.n_computed + i)]);
            step.input.positions.push_back(s.n_computed + i);
        }
        const bool last = s.n_computed + n == int(s.tokens.size());
        if (last) step.input.logit_rows.push_back(sl.token_begin + n - 1);
        step.input.seqs.push_back(std::move(sl));
        step.seqs.push_back(&s);
        step.wants_logits.push_back(last);
        (int(s.tokens.size()) - s.n_computed == 1 ? step.decode_tokens : step.prefill_tokens) += n;
        s.scheduled = n;
        budget -= n;
    };
    // Grows s's blocks for n more tokens, preempting lower-ranked unscheduled sequences if needed.
    auto make_room = [&](sequence& s, int n) {
        while (!blocks_.grow(s.block_table, s.n_computed + n, s.owner())) {
            const int v = victim_for(s, 0);
            if (v < 0) return false;
            preempt(size_t(v));
        }
        return true;
    };

    // Under `priority`, a waiting request that outranks running ones takes their seat (and blocks)
    // before anything is scheduled, so the person in the window never waits behind virtual users.
    if (cfg_.policy == schedule_policy::priority) {
        while (!waiting_.empty()) {
            const sequence& w = *waiting_.front();
            const int chunk = std::min<int>(budget, int(w.tokens.size()));
            const bool short_of_blocks = blocks_.available() < blocks_.blocks_needed({}, chunk);
            if (int(running_.size()) < cfg_.max_num_seqs && !short_of_blocks) break;
            const int v = victim_for(w, 0);
            if (v < 0) break;
            preempt(size_t(v));
        }
    }

    // Running sequences in rank order: pass 0 decodes, pass 1 continues chunked prefills.
    std::vector<sequence*> order;
    for (auto& s : running_) order.push_back(s.get());
    std::sort(order.begin(), order.end(), [this](auto* a, auto* b) { return ranks_before(*a, *b); });
    for (int pass = 0; pass < 2; ++pass) {
        for (sequence* s : order) {
            if (budget <= 0) break;
            auto it = std::find_if(running_.begin(), running_.end(), [s](auto& p) { return p.get() == s; });
            if (it == running_.end() || s->scheduled > 0) continue;  // preempted meanwhile, or done
            const int remaining = int(s->tokens.size()) - s->n_computed;
            if ((pass == 0) != (remaining == 1)) continue;
            if (!cfg_.chunked_prefill && remaining > budget) continue;
            const int n = std::min(budget, remaining);
            if (make_room(*s, n)) {
                take(*s, n);
            } else {  // nothing ranks below it: it yields
                it = std::find_if(running_.begin(), running_.end(), [s](auto& p) { return p.get() == s; });
                preempt(size_t(it - running_.begin()));
            }
        }
    }

    // Admit waiting sequences while seats, budget and blocks last.
    while (!waiting_.empty() && budget > 0) {
        sequence& s = *waiting_.front();
        if (int(running_.size()) >= cfg_.max_num_seqs) {
            const int v = cfg_.policy == schedule_policy::priority ? victim_for(s, 0) : -1;
            if (v < 0) break;
            preempt(size_t(v));
            continue;
        }
        const uint64_t queries_before = blocks_.prefix_cache_queries();
        const uint64_t hits_before = blocks_.prefix_cache_hits();
        admit_prefix(s);
        const int remaining = int(s.tokens.size()) - s.n_computed;
        const bool fits_budget = cfg_.chunked_prefill || remaining <= budget;
        const int n = std::min(budget, remaining);
        if (!fits_budget || !make_room(s, n)) {
            blocks_.release(s.block_table);  // try again next step; undo this attempt's counters
            blocks_.rollback_query(blocks_.prefix_cache_queries() - queries_before,
                                   blocks_.prefix_cache_hits() - hits_before);
            s.n_computed = 0;
            break;
        }
        // Tokens this sequence (or its conversation) had computed before, now computed again.
        int prior = s.computed_before;
        if (!s.admitted_once && s.req.conversation_id) {
            prior = std::min(conversations_.known_prefix(s.req.conversation_id, s.tokens), int(s.tokens.size()) - 1);
        }
        counters_.recomputed_tokens += uint64_t(std::max(0, prior - s.n_computed));
        if (!s.admitted_once) {
            s.cached_prompt_tokens = s.n_computed;
            s.first_scheduled = clock_type::now();
            s.admitted_once = true;
        }
        running_.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
        take(*running_.back(), n);
    }
    return step;
}

void scheduler::on_computed(const scheduled_step& step) {
    for (sequence* s : step.seqs) {
        s->n_computed += s->scheduled;
        s->scheduled = 0;
        blocks_.commit_full_blocks(s->block_table, s->tokens, s->n_computed, &s->committed);
        if (kv_window_ > 0) {   // the next query, at n_computed, sees positions > n_computed - window
            const int first_needed = std::max(0, s->n_computed - kv_window_ + 1);
            counters_.window_freed_blocks +=
                uint64_t(blocks_.release_front(s->block_table, first_needed / blocks_.block_size()));
        }
    }
}

void scheduler::remember_conversation(const sequence& s) {
    if (!s.req.conversation_id || s.n_computed == 0) return;
    conversations_.remember(s.req.conversation_id, s.tokens.data(), size_t(s.n_computed));
}

std::unique_ptr<sequence> scheduler::remove(uint64_t id) {
    for (auto* list : {&running_, &waiting_}) {
        auto it = std::find_if(list->begin(), list->end(), [id](auto& s) { return s->id == id; });
        if (it == list->end()) continue;
        std::unique_ptr<sequence> s = std::move(*it);
        list->erase(it);
        remember_conversation(*s);
        blocks_.release(s->block_table);
        return s;
    }
    return nullptr;
}

} // namespace rl
