// metrics_hub: keeps step and request records (bounded by age, 15 minutes, and by count, so a
// GPU doing ~1,000 steps/s does not grow the history for 15 minutes: a soak showed +23 MiB of RSS
// in 3 minutes) and computes snapshots: gauges, counters since start (which never depend on the
// history), rolling rates and latency percentiles. Thread-safe: the engine
// thread records, any thread snapshots. Exercise: tests/test_metrics_hub.cpp.
#pragma once
#include "metrics/metrics.h"

#include <deque>
#include <mutex>

namespace rl {

struct device_peaks {
    double flops = 0;             // FLOP/s
    double bytes_per_s = 0;
    std::string source;           // "measured", "spec"
    int64_t measured_at = 0;      // when measured, Unix seconds (0: unknown)
};

class metrics_hub {
public:
    /// Records older than history_s, or beyond the newest max_steps / max_requests, are dropped.
    /// Readers that follow the history by cursor (the window, /metrics every 2 s) must come back
    /// before max_steps more steps have run: 32,768 is ~30 s at the fastest step rate measured.
    explicit metrics_hub(double history_s = 900, double rate_window_s = 5, double latency_window_s = 60,
                         size_t max_steps = 32768, size_t max_requests = 65536);

    void set_peaks(const device_peaks& p);
    device_peaks peaks() const;
    void set_kv_total(int blocks);

    /// Fills flops_util/bw_util from the peaks, assigns the index, stores the record.
    void record_step(step_record r);
    void record_request(const request_record& r);
    /// The gauges as they stand now (after a step's finished requests left, or a cancel, or a
    /// rejection while idle). A step record's num_running is that step's batch; the
    /// num_requests_running gauge must drop to 0 once the engine is idle.
    void set_gauges(int running, int waiting, int kv_used, int kv_cached, int kv_free,
                    std::vector<std::pair<uint64_t, int>> waiting_places = {});
    /// Time the engine spent on metrics bookkeeping (records, KV map), to show it stays small.
    void add_overhead(double seconds);

    /// Snapshot at time now_s; new_steps holds steps with index > since_index (at most max_steps,
    /// the newest ones).
    metrics_snapshot snapshot(double now_s, uint64_t since_index = UINT64_MAX, size_t max_steps = 20000) const;
    std::vector<step_record> all_steps() const;
    std::vector<request_record> all_requests() const;

private:
    mutable std::mutex mu_;
    double history_s_, rate_window_s_, latency_window_s_;
    size_t max_steps_, max_requests_;
    device_peaks peaks_;
    int kv_total_ = 0;
    uint64_t next_index_ = 1;
    std::deque<step_record> steps_;
    std::deque<request_record> requests_;
    metrics_snapshot totals_;     // counters only
    step_record last_;
    struct gauges {
        int running = 0, waiting = 0, kv_used = 0, kv_cached = 0, kv_free = 0;
        std::vector<std::pair<uint64_t, int>> waiting_places;
    };
    gauges live_;
    bool has_live_ = false;
};

percentiles compute_percentiles(std::vector<double> v);

} // namespace rl
