// prometheus.cpp: see prometheus.h. Counters are written as in prometheus_client: "# TYPE name
// counter" and the sample "name_total". Every series carries model_name="<served id>".
#include "server/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace {

// vLLM v1's buckets (vllm/v1/metrics/loggers.py, PrometheusStatLogger).
const std::vector<double> kIterationTokenBuckets = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kTpotBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                          0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kRequestLatencyBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,  15.0, 20.0,
                                                    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

std::string escapeLabel(const std::string& v) {
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

class Writer {
public:
    explicit Writer(const std::string& modelId) : mLabel("model_name=\"" + escapeLabel(modelId) + "\"") {}

    void gauge(const char* name, const char* help, double v) {
        header(name, help, "gauge");
        sample(name, "", num(v));
    }
    void counter(const char* name, const char* help, uint64_t v) {
        header(name, help, "counter");
        sample(std::string(name) + "_total", "", num(v));
    }
    void histogram(const char* name, const char* help, const PrometheusExporter::Histogram& h) {
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
    std::string take() { return std::move(mOut); }

private:
    void header(const char* name, const char* help, const char* type) {
        mOut += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& name, const std::string& extraLabels, const std::string& value) {
        mOut += name + "{" + mLabel + extraLabels + "} " + value + "\n";
    }
    std::string mLabel;
    std::string mOut;
};

} // namespace

void PrometheusExporter::Histogram::observe(double v) {
    if (counts.empty()) counts.assign(bounds.size() + 1, 0);
    const size_t i = size_t(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());  // le is inclusive
    ++counts[i];
    sum += v;
    ++count;
}

PrometheusExporter::PrometheusExporter(rl::engine& eng, std::string modelId)
    : mEngine(eng), mModelId(std::move(modelId)) {
    mIterationTokens.bounds = kIterationTokenBuckets;
    mTtft.bounds = kTtftBuckets;
    mTpot.bounds = kTpotBuckets;
    mE2e.bounds = kRequestLatencyBuckets;
    mQueue.bounds = kRequestLatencyBuckets;
    for (auto* h : {&mIterationTokens, &mTtft, &mTpot, &mE2e, &mQueue}) h->counts.assign(h->bounds.size() + 1, 0);
}

void PrometheusExporter::noteStoppedOwner(uint64_t owner) {
    std::lock_guard lk(mMutex);
    mStoppedOwners.insert(owner);
}

void PrometheusExporter::collect() {
    std::lock_guard lk(mMutex);
    collectLocked();
}

void PrometheusExporter::collectLocked() {
    // Steps: the snapshot's new_steps are those after our cursor (the hub keeps 15 minutes).
    const rl::metrics_snapshot s = mEngine.snapshot(mStepCursor);
    for (const auto& st : s.new_steps) {
        if (st.index <= mStepCursor) continue;
        mIterationTokens.observe(double(st.tokens()));
        mStepCursor = st.index;
    }
    // Requests: records are appended in end-time order; the cursor is (t_s, how many at that t_s).
    const std::vector<rl::request_record> recs = mEngine.request_history();
    size_t atT = 0;
    for (const auto& r : recs) {
        if (r.t_s < mRequestCursorT) continue;
        if (r.t_s == mRequestCursorT && atT++ < mRequestsAtCursorT) continue;
        if (r.t_s > mRequestCursorT) {
            mRequestCursorT = r.t_s;
            mRequestsAtCursorT = 0;
            atT = 1;
        }
        ++mRequestsAtCursorT;
        bool finished = !r.rejected && !r.cancelled;
        if (r.cancelled && mStoppedOwners.erase(r.owner)) finished = true;   // ended by a stop string
        if (!finished) continue;
        if (r.generated_tokens > 0) mTtft.observe(r.ttft_s);
        if (r.generated_tokens > 1) mTpot.observe(r.tpot_s);
        mE2e.observe(r.e2e_s);
        mQueue.observe(r.queue_s);
    }
}

std::string PrometheusExporter::render() {
    std::lock_guard lk(mMutex);
    collectLocked();
    const rl::metrics_snapshot s = mEngine.snapshot();
    // The engine publishes its gauges after every round (and when it goes idle), so they are
    // right whoever else uses the engine: virtual users, the window's chat, other API clients.
    Writer w(mModelId);
    w.gauge("vllm:num_requests_running", "Number of requests in model execution batches.", s.num_requests_running);
    w.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", s.num_requests_waiting);
    w.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_cache_usage_perc);
    w.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
              s.prefix_cache_queries);
    w.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", s.prefix_cache_hits);
    w.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", s.num_preemptions);
    w.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", s.prompt_tokens);
    w.counter("vllm:generation_tokens", "Number of generation tokens processed.", s.generation_tokens);
    w.histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", mIterationTokens);
    w.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", mTtft);
    w.histogram("vllm:time_per_output_token_seconds",
                "Histogram of time per output token in seconds (one observation per request: its mean).", mTpot);
    w.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", mE2e);
    w.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", mQueue);
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
