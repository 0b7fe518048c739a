// prometheus_exporter: renders GET /metrics in the Prometheus text format with vLLM's metric names,
// types and histogram buckets (vllm/v1/metrics/loggers.py), plus ridgeline: metrics. Histograms
// are cumulative since start: collect() feeds them from the engine's step and request records
// through cursors, and is called often enough (every scrape and every few seconds) that records
// never age out of the hub's 15-minute history before they are counted.
// Every series carries vLLM v1's labels, model_name and engine="0". The names vLLM's Grafana
// dashboard queries are listed in tests/data/vllm_dashboard_metrics.txt.
// Exercised by tests/test_serve.cpp and tests/test_metrics_parse.py.
#pragma once
#include "runtime/engine.h"

#include <cstdint>

#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace rl {

class prometheus_exporter {
public:
    prometheus_exporter(engine& eng, std::string model_id);

    /// The owner of a request the server cancelled because a stop string matched: it counts as
    /// finished (not cancelled) in the latency histograms.
    void note_stopped_owner(uint64_t owner);
    /// Feeds new step and request records into the cumulative histograms.
    void collect();
    /// collect(), then the whole exposition.
    std::string render();

    struct histogram {
        std::vector<double> bounds;     // upper bounds, ascending; +Inf is implicit
        std::vector<uint64_t> counts;   // per bucket (not cumulative), bounds.size() + 1
        double sum = 0;
        uint64_t count = 0;
        void observe(double v);
    };

private:
    void collect_locked();

    engine& engine_;
    std::string model_id_;
    std::mutex mutex_;
    uint64_t step_cursor_ = 0;              // highest step index counted
    double request_cursor_t_ = -1;          // t_s of the newest request record counted
    size_t requests_at_cursor_t_ = 0;       // how many records with exactly that t_s were counted
    std::unordered_set<uint64_t> stopped_owners_;
    histogram iteration_tokens_, ttft_, tpot_, e2e_, queue_;
    histogram prefill_, decode_, inference_, itl_, request_tpot_;
    histogram prompt_len_, generation_len_, max_generation_len_;
    uint64_t finished_stop_ = 0, finished_length_ = 0, finished_abort_ = 0;
    uint64_t cached_prompt_tokens_ = 0;      // prefix-cached tokens of requests that ran
};

} // namespace rl
