// prometheus.cpp: see prometheus.h. Counters are written as prometheus_client's text format 0.0.4
// writes them (and so as vLLM serves them): "# TYPE name_total counter" and the sample
// "name_total". Declaring "# TYPE name counter" instead is the OpenMetrics form; a 0.0.4 parser
// (prometheus_client's text_string_to_metric_families) then reads an empty counter family plus an
// untyped "name_total" one. Every series carries model_name="<served id>".
#include "server/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rl {

namespace {

// vLLM v1's buckets (vllm/v1/metrics/loggers.py, PrometheusStatLogger).
const std::vector<double> kIterationTokenBuckets = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kTpotBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                          0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kRequestLatencyBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,  15.0, 20.0,
                                                    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

// vLLM's build_1_2_5_buckets(max_model_len): 1, 2, 5, 10, 20, 50, ... up to the context.
std::vector<double> one_two_five_buckets(int max_value) {
    std::vector<double> b;
    for (double scale = 1;; scale *= 10)
        for (double m : {1.0, 2.0, 5.0}) {
            if (m * scale > max_value) return b;
            b.push_back(m * scale);
        }
}

std::string escape_label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string num(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    char buf[64];
    for (int precision = 15; precision <= 17; ++precision) {   // the shortest form that reads back exactly
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::string num(uint64_t v) { return std::to_string(v); }

class writer {
public:
    explicit writer(const std::string& model_id)
        : label_("engine=\"0\",model_name=\"" + escape_label(model_id) + "\"") {}

    void gauge(const char* name, const char* help, double v) {
        header(name, help, "gauge");
        sample(name, "", num(v));
    }
    void counter(const char* name, const char* help, uint64_t v) {
        const std::string total = std::string(name) + "_total";
        header(total.c_str(), help, "counter");
        sample(total, "", num(v));
    }
    // One family, one sample per value of an extra label.
    void labelled_counter(const char* name, const char* help, const char* label,
                          const std::vector<std::pair<std::string, uint64_t>>& values) {
        const std::string total = std::string(name) + "_total";
        header(total.c_str(), help, "counter");
        for (const auto& [v, n] : values) sample(total, std::string(",") + label + "=\"" + escape_label(v) + "\"", num(n));
    }
    void info(const char* name, const char* help, const std::string& labels) {
        header(name, help, "gauge");
        sample(name, "," + labels, "1");
    }
    void histogram(const char* name, const char* help, const prometheus_exporter::histogram& h) {
        header(name, help, "histogram");
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds.size(); ++i) {
            cumulative += h.counts[i];
            const std::string le = i < h.bounds.size() ? num(h.bounds[i]) : "+Inf";
            sample(std::string(name) + "_bucket", ",le=\"" + le + "\"", num(cumulative));
        }
        sample(std::string(name) + "_sum", "", num(h.sum));
        sample(std::string(name) + "_count", "", num(h.count));
    }
    std::string take() { return std::move(out_); }

private:
    void header(const char* name, const char* help, const char* type) {
        out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& name, const std::string& extra_labels, const std::string& value) {
        out_ += name + "{" + label_ + extra_labels + "} " + value + "\n";
    }
    std::string label_;
    std::string out_;
};

} // namespace

void prometheus_exporter::histogram::observe(double v) {
    if (counts.empty()) counts.assign(bounds.size() + 1, 0);
    const size_t i = size_t(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());  // le is inclusive
    ++counts[i];
    sum += v;
    ++count;
}

prometheus_exporter::prometheus_exporter(engine& eng, std::string model_id)
    : engine_(eng), model_id_(std::move(model_id)) {
    iteration_tokens_.bounds = kIterationTokenBuckets;
    ttft_.bounds = kTtftBuckets;
    tpot_.bounds = kTpotBuckets;
    e2e_.bounds = kRequestLatencyBuckets;
    queue_.bounds = kRequestLatencyBuckets;
    for (auto* h : {&prefill_, &decode_, &inference_}) h->bounds = kRequestLatencyBuckets;
    itl_.bounds = kTpotBuckets;
    request_tpot_.bounds = kTpotBuckets;
    const int context = std::max(1, engine_.info().context_length);
    for (auto* h : {&prompt_len_, &generation_len_, &max_generation_len_}) h->bounds = one_two_five_buckets(context);
    for (auto* h : {&iteration_tokens_, &ttft_, &tpot_, &e2e_, &queue_, &prefill_, &decode_, &inference_, &itl_,
                    &request_tpot_, &prompt_len_, &generation_len_, &max_generation_len_})
        h->counts.assign(h->bounds.size() + 1, 0);
}

void prometheus_exporter::note_stopped_owner(uint64_t owner) {
    std::lock_guard lk(mutex_);
    stopped_owners_.insert(owner);
}

void prometheus_exporter::collect() {
    std::lock_guard lk(mutex_);
    collect_locked();
}

void prometheus_exporter::collect_locked() {
    // Steps: the snapshot's new_steps are those after our cursor (the hub keeps 15 minutes).
    const metrics_snapshot s = engine_.snapshot(step_cursor_);
    for (const auto& st : s.new_steps) {
        if (st.index <= step_cursor_) continue;
        iteration_tokens_.observe(double(st.tokens()));
        step_cursor_ = st.index;
    }
    // Requests: records are appended in end-time order; the cursor is (t_s, how many at that t_s).
    const std::vector<request_record> recs = engine_.request_history();
    size_t at_t = 0;
    for (const auto& r : recs) {
        if (r.t_s < request_cursor_t_) continue;
        if (r.t_s == request_cursor_t_ && at_t++ < requests_at_cursor_t_) continue;
        if (r.t_s > request_cursor_t_) {
            request_cursor_t_ = r.t_s;
            requests_at_cursor_t_ = 0;
            at_t = 1;
        }
        ++requests_at_cursor_t_;
        if (r.rejected) continue;   // never admitted: ridgeline:rejected_requests counts it
        bool finished = !r.cancelled;
        if (r.cancelled && stopped_owners_.erase(r.owner)) finished = true;   // ended by a stop string
        if (r.generated_tokens > 0) cached_prompt_tokens_ += uint64_t(r.cached_prompt_tokens);
        if (!finished) {
            ++finished_abort_;   // vLLM's finished_reason="abort": the client left, or shutdown
            continue;
        }
        ++(r.length ? finished_length_ : finished_stop_);
        // vLLM's phases: queued (arrival -> scheduled), prefill (-> first token), decode (first
        // -> last token); inference is prefill + decode.
        const double prefill = std::max(0.0, r.ttft_s - r.queue_s);
        const double decode = r.generated_tokens > 1 ? r.tpot_s * (r.generated_tokens - 1) : 0.0;
        if (r.generated_tokens > 0) ttft_.observe(r.ttft_s);
        if (r.generated_tokens > 1) {
            tpot_.observe(r.tpot_s);
            request_tpot_.observe(r.tpot_s);
            // Per-token gaps are not recorded: each of the request's gaps is observed at its mean,
            // so _sum and _count (and the mean) are exact and the buckets are per-request.
            for (int i = 1; i < r.generated_tokens; ++i) itl_.observe(r.tpot_s);
        }
        e2e_.observe(r.e2e_s);
        queue_.observe(r.queue_s);
        prefill_.observe(prefill);
        decode_.observe(decode);
        inference_.observe(prefill + decode);
        prompt_len_.observe(r.prompt_tokens);
        generation_len_.observe(r.generated_tokens);
        max_generation_len_.observe(r.generated_tokens);   // n = 1: the longest is the only one
    }
}

std::string prometheus_exporter::render() {
    std::lock_guard lk(mutex_);
    collect_locked();
    const metrics_snapshot s = engine_.snapshot();
    // The engine publishes its gauges after every round (and when it goes idle), so they are
    // right whoever else uses the engine: virtual users, the window's chat, other API clients.
    writer w(model_id_);
    w.gauge("vllm:num_requests_running", "Number of requests in model execution batches.", s.num_requests_running);
    w.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", s.num_requests_waiting);
    w.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_cache_usage_perc);
    w.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
              s.prefix_cache_queries);
    w.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", s.prefix_cache_hits);
    // vLLM v0's name for the same gauge; its Grafana dashboard's "Cache Utilization" panel reads it.
    w.gauge("vllm:gpu_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage (vLLM v0 name).",
            s.kv_cache_usage_perc);
    const serving_config cfg = engine_.current_config();
    w.info("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
           "block_size=\"" + std::to_string(cfg.block_size) + "\",enable_prefix_caching=\"" +
               (cfg.prefix_caching ? "True" : "False") + "\",gpu_memory_utilization=\"" +
               num(cfg.gpu_memory_utilization) + "\",num_gpu_blocks=\"" + std::to_string(s.kv_total) + "\"");
    w.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", s.num_preemptions);
    // vLLM counts each request's whole prompt, prefix-cached tokens included (not the prefill
    // computed, which ridgeline:recomputed_tokens and the cache counters explain).
    w.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", s.request_prompt_tokens);
    w.counter("vllm:prompt_tokens_cached", "Number of cached prompt tokens (local prefix cache).", cached_prompt_tokens_);
    w.counter("vllm:generation_tokens", "Number of generation tokens processed.", s.generation_tokens);
    w.labelled_counter("vllm:request_success", "Count of successfully processed requests.", "finished_reason",
                       {{"stop", finished_stop_}, {"length", finished_length_}, {"abort", finished_abort_}});
    w.histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", prompt_len_);
    w.histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", generation_len_);
    w.histogram("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.",
                max_generation_len_);
    w.histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", iteration_tokens_);
    w.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft_);
    w.histogram("vllm:time_per_output_token_seconds",
                "Histogram of time per output token in seconds (one observation per request: its mean).", tpot_);
    w.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e_);
    w.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", queue_);
    w.histogram("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
                inference_);
    w.histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", prefill_);
    w.histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", decode_);
    w.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl_);
    w.histogram("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.",
                request_tpot_);
    w.gauge("ridgeline:flops_utilization", "Achieved FLOP/s over the last 5 s as a fraction of the device peak.",
            s.flops_utilization);
    w.gauge("ridgeline:bandwidth_utilization", "Achieved bytes/s over the last 5 s as a fraction of the device peak.",
            s.bandwidth_utilization);
    w.counter("ridgeline:kv_evicted_blocks", "Cached KV blocks evicted (LRU) to make room.", s.kv_evicted_blocks);
    w.counter("ridgeline:recomputed_tokens", "Tokens whose KV was computed again (preemption, evicted prefix).",
              s.recomputed_tokens);
    w.counter("ridgeline:rejected_requests", "Requests refused by admission control or as invalid.",
              s.rejected_requests);
    return w.take();
}

} // namespace rl
