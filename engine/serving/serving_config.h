// serving_config: every serving knob's value (defaults here; ranges, units and help in
// serving_knobs.h), validated as a whole. Most apply at the next step boundary; the pool-shape
// knobs (max_model_len, kv_blocks, kv_budget_gib, block_size, gpu_memory_utilization) re-size the
// pool (see needs_pool_restart). A special zero ("auto") is resolved by the engine for its backend
// with the resolve_* functions below, which are pure so the tests can check them by hand.
#pragma once
#include <cstddef>
#include <string>

namespace rl {

enum class schedule_policy { fcfs, priority };
enum class preemption_mode { recompute };

struct serving_config {
    int max_num_seqs = 16;               // batch-size limit
    int max_num_batched_tokens = 0;      // token budget per step; 0 = auto for the backend
                                         // (auto_batched_tokens)
    bool chunked_prefill = true;
    bool prefix_caching = true;
    // priority by default: the person in the window (priority 10) outranks virtual users (0); among
    // equal priorities it is first come, first served.
    schedule_policy policy = schedule_policy::priority;
    preemption_mode preemption = preemption_mode::recompute;
    int max_waiting = 1024;              // admission control: queue length
    double max_queue_ms = 0;             // admission control: longest wait before rejection (0 = off)
    // Pool shape (changing these restarts the pool):
    int max_model_len = 0;               // context limit per sequence; 0 = min(model context, 8192)
    int block_size = 16;
    int kv_blocks = 0;                   // 0 = from kv_budget_gib, else from memory
    double kv_budget_gib = 0;            // KV pool budget when kv_blocks is 0; 0 = from memory
    double gpu_memory_utilization = 0.9;
};

/// The step token budget "auto" (max_num_batched_tokens 0) resolves to. On a GPU, 2048 (vLLM's
/// chunked-prefill default). On the CPU, the prompt tokens one step computes in about a quarter
/// of a second at the measured FLOP peak (2 x params FLOPs a token), as a power of two in
/// [64, 2048]; 512 (llama.cpp's batch) when no peak is known. A CPU step of 2048 tokens would
/// stall every decode for tens of seconds on a laptop with a 7-8B model.
int auto_batched_tokens(bool gpu, double peak_flops, double params);
/// The context limit max_model_len "auto" (0) resolves to for a model of `model_context` tokens;
/// a value above the model's own context is capped to it.
int resolve_max_model_len(int max_model_len, int model_context);
/// Blocks of `per_block_bytes` that a budget of `gib` GiB holds (at least 0).
int kv_blocks_for_budget(double gib, size_t per_block_bytes);
/// c with its autos resolved for a backend: max_num_batched_tokens 0 becomes `auto_tokens`, at
/// least max_num_seqs. The engine runs the result; what the person chose keeps its zeros.
serving_config resolve_step_budget(serving_config c, int auto_tokens);

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
