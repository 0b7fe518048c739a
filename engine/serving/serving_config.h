// serving_config: every serving knob's value (defaults here; ranges, units and help in
// serving_knobs.h), validated as a whole. Most apply at the next step boundary;
// kv_blocks, block_size and gpu_memory_utilization re-size the pool (see needs_pool_restart).
#pragma once
#include <string>

namespace rl {

enum class schedule_policy { fcfs, priority };
enum class preemption_mode { recompute };

struct serving_config {
    int max_num_seqs = 16;               // batch-size limit
    int max_num_batched_tokens = 2048;   // token budget per step
    bool chunked_prefill = true;
    bool prefix_caching = true;
    // priority by default: the person in the window (priority 10) outranks virtual users (0); among
    // equal priorities it is first come, first served.
    schedule_policy policy = schedule_policy::priority;
    preemption_mode preemption = preemption_mode::recompute;
    int max_waiting = 1024;              // admission control: queue length
    double max_queue_ms = 0;             // admission control: longest wait before rejection (0 = off)
    // Pool shape (changing these restarts the pool):
    int block_size = 16;
    int kv_blocks = 0;                   // 0 = derive from memory (gpu_memory_utilization on the GPU)
    double gpu_memory_utilization = 0.9;
};


/// A refusal: the knob it names (its serving_config field; "" when fine) and the reason.
struct config_error {
    std::string field;
    std::string message;
    explicit operator bool() const { return !field.empty(); }
};

/// Each knob against its row of the knob table (serving_knobs.h), then the rules between knobs.
config_error validate(const serving_config& c);
/// max_context: the engine's context limit; a pool smaller than one full sequence is refused
/// (field "kv_blocks").
config_error validate_pool(const serving_config& c, int kv_blocks, int max_context);
/// Whether a and b differ in a knob that re-sizes the KV pool (the table's restarts_pool rows).
bool needs_pool_restart(const serving_config& a, const serving_config& b);
/// `next` with the pool-shape knobs of `in_force`: the part of a change that can apply live.
serving_config with_pool_of(serving_config next, const serving_config& in_force);

} // namespace rl
