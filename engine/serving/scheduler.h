// scheduler: decides, each step, which sequences run and how many tokens each (continuous
// batching). Decodes first, then chunked prefill inside the token budget; admission by policy
// (fcfs or priority); preemption by recompute when blocks run out; admission control with
// reasons. Pure C++: tested with a fake runner in tests/test_scheduler.cpp.
#pragma once
#include "backend/backend.h"
#include "serving/block_manager.h"
#include "serving/conversation_memory.h"
#include "serving/sequence.h"
#include "serving/serving_config.h"

#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rl {

struct scheduled_step {
    step_input input;               // ready for llama_model::forward
    std::vector<sequence*> seqs;    // parallel to input.seqs
    std::vector<bool> wants_logits; // parallel to seqs: this chunk ends at the last token
    int prefill_tokens = 0;
    int decode_tokens = 0;
    bool empty() const { return seqs.empty(); }
};

struct rejection {
    std::unique_ptr<sequence> seq;
    std::string reason;
};

struct scheduler_counters {
    uint64_t preemptions = 0;
    uint64_t recomputed_tokens = 0;   // tokens computed once before, scheduled for computing again
    uint64_t rejected = 0;
    uint64_t window_freed_blocks = 0;   // released behind a sliding window (set_kv_window)
};

class scheduler {
public:
    scheduler(const serving_config& cfg, block_manager& blocks, int max_context);

    /// Takes effect at the next schedule(). The pool fields are ignored here (see engine).
    void set_config(const serving_config& cfg);
    const serving_config& config() const { return cfg_; }
    /// > 0 when every layer of the model attends within this many positions: blocks a running
    /// sequence has left wholly behind the window are released after each step (step_input::
    /// kv_window tells the backend). 0 keeps every block to the end.
    void set_kv_window(int positions) { kv_window_ = positions > 0 ? positions : 0; }
    int kv_window() const { return kv_window_; }

    /// Queues a request. Returns the rejection reason (and keeps nothing) if admission control
    /// or a per-request check refuses it; the caller then finishes it as rejected.
    std::string add(std::unique_ptr<sequence>& s, clock_type::time_point now);

    /// Builds the next step. Requests that waited past max_queue_ms come back in `rejected`.
    scheduled_step schedule(clock_type::time_point now, std::vector<rejection>& rejected);

    /// After the forward pass: advances computed counts and offers full blocks to the prefix cache.
    void on_computed(const scheduled_step& step);

    /// Removes a finished or cancelled sequence (running or waiting) and frees its blocks.
    std::unique_ptr<sequence> remove(uint64_t id);

    int num_running() const { return int(running_.size()); }
    int num_waiting() const { return int(waiting_.size()); }
    bool idle() const { return running_.empty() && waiting_.empty(); }
    const std::deque<std::unique_ptr<sequence>>& running() const { return running_; }
    const std::deque<std::unique_ptr<sequence>>& waiting() const { return waiting_; }
    const scheduler_counters& counters() const { return counters_; }

private:
    bool ranks_before(const sequence& a, const sequence& b) const;
    void preempt(size_t running_index);
    int victim_for(const sequence& needy, size_t from) const;  // running index or -1
    void admit_prefix(sequence& s);
    void remember_conversation(const sequence& s);

    serving_config cfg_;
    block_manager& blocks_;
    int max_context_;
    int kv_window_ = 0;
    std::deque<std::unique_ptr<sequence>> waiting_;
    std::deque<std::unique_ptr<sequence>> running_;
    scheduler_counters counters_;
    // What KV each conversation had computed when its last turn ended (bounded LRU).
    conversation_memory conversations_;
};

} // namespace rl
