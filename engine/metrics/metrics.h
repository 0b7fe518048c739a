// metrics: the raw records the engine produces (one step_record per step, one request_record per
// finished request) and the value snapshot the UI, /metrics and ridgeline-bench read.
// Names follow vLLM where one exists (see docs/metrics.md for how each number is computed).
#pragma once
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

namespace rl {

struct step_record {
    uint64_t index = 0;
    double t_s = 0;               // step start, seconds since the engine started
    double duration_s = 0;        // schedule + forward + sample (CUDA events on the GPU)
    int prefill_tokens = 0;
    int decode_tokens = 0;
    int sampled_tokens = 0;       // output tokens produced (streamed) by this step
    int num_running = 0;          // batch size: sequences in this step
    int num_waiting = 0;
    int kv_used = 0, kv_cached = 0, kv_free = 0;   // blocks, after the step
    double flops = 0;             // from cost_model
    double bytes = 0;
    double flops_util = 0;        // flops / duration / peak FLOP/s
    double bw_util = 0;           // bytes / duration / peak bytes/s
    // Deltas during this step:
    uint32_t preemptions = 0;
    uint32_t evicted_blocks = 0;
    uint32_t prefix_queries = 0;  // tokens looked up in the prefix cache
    uint32_t prefix_hits = 0;     // tokens found
    uint32_t recomputed_tokens = 0;
    uint32_t window_freed_blocks = 0;     // released behind a sliding window (scheduler::set_kv_window)
    uint32_t started_prompt_tokens = 0;   // whole prompts (cached tokens included) of first tokens sampled
    uint32_t finished = 0;
    uint32_t rejected = 0;
    int tokens() const { return prefill_tokens + decode_tokens; }
};

struct request_record {
    double t_s = 0;               // when it ended
    uint64_t owner = 0;           // conversation id (0 = anonymous)
    double queue_s = 0, ttft_s = 0, tpot_s = 0, e2e_s = 0;
    int prompt_tokens = 0, generated_tokens = 0, cached_prompt_tokens = 0;
    bool rejected = false;
    bool cancelled = false;       // by its owner, or at shutdown
    bool length = false;          // ended by max_tokens or the context (else a stop token)
};

struct percentiles {
    double p50 = 0, p90 = 0, p99 = 0;
    int n = 0;
};

struct metrics_snapshot {
    double t_s = 0;
    // Gauges, as of the latest step.
    int num_requests_running = 0;
    int num_requests_waiting = 0;
    /// Where each waiting request that asked for progress (request::report_progress: the chat's)
    /// stands in the waiting queue, in the scheduler's rank order: {request id, 1 = next}.
    /// Only those requests, so a queue of virtual users costs nothing here.
    std::vector<std::pair<uint64_t, int>> waiting_places;
    double kv_cache_usage_perc = 0;   // used / total (vLLM's definition: 0..1)
    int kv_used = 0, kv_cached = 0, kv_free = 0, kv_total = 0;
    // Counters since start.
    uint64_t steps = 0;
    double busy_s = 0;                 // sum of step durations
    double metrics_overhead_s = 0;     // engine time spent recording metrics (must stay << busy_s)
    uint64_t prompt_tokens = 0;        // prefill tokens computed (recomputation included)
    uint64_t request_prompt_tokens = 0;   // whole prompts of requests that sampled a first token,
                                          // prefix-cached tokens included, once each (vLLM's
                                          // vllm:prompt_tokens_total)
    uint64_t generation_tokens = 0;    // output tokens sampled and streamed
    uint64_t iteration_tokens_total = 0;  // prefill + decode tokens computed
    uint64_t prefix_cache_queries = 0, prefix_cache_hits = 0;
    uint64_t num_preemptions = 0, kv_evicted_blocks = 0, recomputed_tokens = 0;
    uint64_t kv_window_freed_blocks = 0;   // blocks released behind a sliding window
    uint64_t requests_finished = 0;    // ended by a stop token or a length limit
    uint64_t requests_cancelled = 0, rejected_requests = 0;
    int max_batch = 0, kv_used_peak = 0;  // largest step batch and KV blocks in use, since start
    double batch_time_s = 0;              // sum of batch x step duration (mean batch = this / busy_s)
    // Rolling over the rate window (wall-clock time, idle included).
    double window_s = 0;
    double prefill_tok_s = 0, decode_tok_s = 0;
    double flops_utilization = 0, bandwidth_utilization = 0;   // fraction of peak
    double arithmetic_intensity = 0;                           // FLOPs per byte
    double device_busy_perc = 0;                               // fraction of wall time in steps
    double mean_batch = 0;
    double prefix_hit_rate = 0;                                // hits / queries in the window
    double recomputed_tok_s = 0;
    // Latency over the latency window.
    percentiles ttft_s, tpot_s, e2e_s, queue_s;
    // Steps since the caller's cursor (for plots), oldest first.
    std::vector<step_record> new_steps;
};

} // namespace rl
