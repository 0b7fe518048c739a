// remote_metrics.cpp: see remote_metrics.h. The name tables below were checked against each
// project's source: vLLM vllm/v1/metrics/loggers.py; SGLang python/sglang/srt/metrics/collector.py;
// llama.cpp tools/server/server-task.cpp (server_task_result_metrics::to_metrics) and
// server-context.cpp (where each counter grows). Where a name changed between versions both
// spellings are listed, newest first.
#include "interop/remote_metrics.h"

#include <algorithm>
#include <cmath>

namespace rl {

namespace {

using prom::exposition;
using prom::sample;

struct name_table {
    remote_format format;
    const char* prefix;
    const char* running[2];
    const char* waiting[2];
    const char* kv_usage[2];
    const char* prompt_tokens;
    const char* generation_tokens;
    const char* ttft;
    const char* tpot[2];
    const char* gen_throughput;
    const char* cache_hit_rate;
    const char* prefix_queries;
    const char* prefix_hits;
    const char* preemptions;
};

// vLLM: kv_cache_usage_perc replaced gpu_cache_usage_perc (deprecated in v0.10/v1, PR #18354; no
// longer emitted by default since). inter_token_latency_seconds replaced
// time_per_output_token_seconds in newer v1 releases. Its counters grow every engine step, so
// they are live. prometheus_client writes "# TYPE vllm:prompt_tokens_total counter" and samples
// "vllm:prompt_tokens_total" (OpenMetrics output declares "# TYPE vllm:prompt_tokens counter");
// samples are looked up by name, so either works.
// SGLang: labels carry model_name and, with tensor/pipeline parallelism, tp_rank/pp_rank (every
// rank reports the same scheduler), or dp_rank (separate schedulers, summed). prompt_tokens_total
// and generation_tokens_total grow only when a request finishes (TokenizerMetricsCollector.
// observe_one_finished_request); newer releases add realtime_tokens_total{mode=prefill_compute|
// prefill_cache|decode}, which the scheduler adds to every log interval, and that is preferred
// (read_sglang). Without it the decode rate is SGLang's own gen_throughput gauge. Older SGLang
// wrote time_per_output_token_seconds; newer inter_token_latency_seconds. Retractions (its
// preemptions) are num_retracted_requests_total.
// llama-server (only with --metrics): kv_cache_usage_ratio and kv_cache_tokens were removed in
// 2025 (llama.cpp PR #13660); current builds have no KV gauge at all, so KV fill is NaN there. No
// TTFT or TPOT histogram either. tokens_predicted_total grows only when a request finishes, so the
// live decode rate comes from n_decode_total and n_busy_slots_per_decode instead (read_llamacpp).
const name_table kTables[] = {
    {remote_format::vllm, "vllm:",
     {"vllm:num_requests_running", nullptr}, {"vllm:num_requests_waiting", nullptr},
     {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
     "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds",
     {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"}, nullptr, nullptr,
     "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:num_preemptions_total"},
    {remote_format::sglang, "sglang:",
     {"sglang:num_running_reqs", nullptr}, {"sglang:num_queue_reqs", nullptr}, {"sglang:token_usage", nullptr},
     "sglang:prompt_tokens_total", "sglang:generation_tokens_total", "sglang:time_to_first_token_seconds",
     {"sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"}, "sglang:gen_throughput",
     "sglang:cache_hit_rate", nullptr, nullptr, "sglang:num_retracted_requests_total"},
    {remote_format::llamacpp, "llamacpp:",
     {"llamacpp:requests_processing", nullptr}, {"llamacpp:requests_deferred", nullptr},
     {"llamacpp:kv_cache_usage_ratio", nullptr},
     "llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", nullptr, {nullptr, nullptr},
     "llamacpp:predicted_tokens_seconds", nullptr, nullptr, nullptr, nullptr},
};

const name_table* table_for(remote_format f) {
    for (const auto& t : kTables)
        if (t.format == f) return &t;
    return nullptr;
}

// Tensor- and pipeline-parallel ranks repeat one scheduler's numbers: only rank 0 counts.
bool primary_rank(const sample& s) {
    for (const char* l : {"tp_rank", "pp_rank"})
        if (const std::string* v = s.label(l); v && *v != "0") return false;
    return true;
}

// Sum over the series of `name` (several data-parallel schedulers, several models); NaN if absent.
double total(const exposition& e, const char* name) {
    if (!name) return remote_scrape::kNaN;
    double sum = 0;
    bool found = false;
    for (const sample& s : e.samples)
        if (s.name == name && primary_rank(s) && !std::isnan(s.value)) {
            sum += s.value;
            found = true;
        }
    return found ? sum : remote_scrape::kNaN;
}

// The same, over the series whose label `label` is `value` (SGLang's realtime_tokens_total{mode}).
double total_where(const exposition& e, const char* name, const char* label, const char* value) {
    double sum = 0;
    bool found = false;
    for (const sample& s : e.samples)
        if (s.name == name && primary_rank(s) && !std::isnan(s.value))
            if (const std::string* v = s.label(label); v && *v == value) {
                sum += s.value;
                found = true;
            }
    return found ? sum : remote_scrape::kNaN;
}

double plus(double a, double b) { return std::isnan(a) || std::isnan(b) ? remote_scrape::kNaN : a + b; }

// llama-server: prompt_tokens_total counts computed prompt tokens as each batch is decoded (live);
// prompt_tokens_cached_total the ones a slot reused from its previous prompt. Generated tokens
// are counted per decode call instead of per finished request: every slot that is processing
// takes part in each llama_decode() and a generating slot gains one token from it, so
// n_busy_slots_per_decode (a gauge: busy slots summed over all calls / calls) times
// n_decode_total is the running count of slot-steps. It counts a prompt of k batches as k steps
// for its one first token (exact for prompts within -b), and both numbers are printed with six
// significant digits, so past a million decode calls it moves in steps of a few tokens.
void read_llamacpp(const exposition& e, remote_scrape& out) {
    const double calls = total(e, "llamacpp:n_decode_total");
    const double per_call = total(e, "llamacpp:n_busy_slots_per_decode");
    out.finished_gen_tokens = out.generation_tokens;   // tokens_predicted_total
    out.finished_gen_seconds = total(e, "llamacpp:tokens_predicted_seconds_total");
    if (!std::isnan(calls) && !std::isnan(per_call)) out.generation_tokens = std::round(calls * per_call);
    else out.generation_live = false;                  // an older build: only finished requests
    out.prefix_hits = total(e, "llamacpp:prompt_tokens_cached_total");
    out.prefix_queries = plus(out.prefix_hits, out.prompt_tokens);
}

// SGLang: realtime_tokens_total where this release has it (live), else the per-request counters
// (grow when requests finish) and the scheduler's own gen_throughput gauge for the decode rate.
void read_sglang(const exposition& e, remote_scrape& out) {
    const char* rt = "sglang:realtime_tokens_total";
    const double compute = total_where(e, rt, "mode", "prefill_compute");
    const double cached = total_where(e, rt, "mode", "prefill_cache");
    const double decode = total_where(e, rt, "mode", "decode");
    if (!std::isnan(compute)) out.prompt_tokens = compute;
    else out.prompt_live = false;
    if (!std::isnan(decode)) out.generation_tokens = decode;
    else out.generation_live = false;
    if (!std::isnan(cached) && !std::isnan(compute)) {
        out.prefix_hits = cached;
        out.prefix_queries = cached + compute;
    }
}

// Mean over the series: for fractions (KV usage, hit rate), where a sum would exceed 1.
double mean(const exposition& e, const char* name) {
    if (!name) return remote_scrape::kNaN;
    double sum = 0;
    int n = 0;
    for (const sample& s : e.samples)
        if (s.name == name && primary_rank(s) && !std::isnan(s.value)) {
            sum += s.value;
            ++n;
        }
    return n ? sum / n : remote_scrape::kNaN;
}

template <size_t N>
double first_of(const exposition& e, const char* const (&names)[N], double (*read)(const exposition&, const char*)) {
    for (const char* n : names)
        if (n) {
            const double v = read(e, n);
            if (!std::isnan(v)) return v;
        }
    return remote_scrape::kNaN;
}

int known_names(const exposition& e, const name_table& t) {
    const char* names[] = {t.running[0], t.waiting[0], t.kv_usage[0], t.kv_usage[1], t.prompt_tokens,
                           t.generation_tokens, t.gen_throughput, t.cache_hit_rate};
    int n = 0;
    for (const char* name : names)
        if (name && e.has(name)) ++n;
    if (t.ttft && e.has(std::string(t.ttft) + "_count")) ++n;
    return n;
}

// A counter's increase: a value that went down means the process restarted from zero.
double increase(double before, double after, bool& reset) {
    if (std::isnan(before) || std::isnan(after)) return remote_sample::kNaN;
    if (after < before) {
        reset = true;
        return after;
    }
    return after - before;
}

// The histogram of observations between two scrapes (bucket-wise increase).
prom::histogram histogram_increase(const prom::histogram& a, const prom::histogram& b, bool& reset) {
    prom::histogram d;
    d.present = b.present;
    if (!b.present) return d;
    const bool restarted = b.count < a.count;
    if (restarted) reset = true;
    d.sum = restarted ? b.sum : b.sum - a.sum;
    d.count = restarted ? b.count : b.count - a.count;
    for (const auto& [le, cum] : b.buckets) {
        double before = 0;
        if (!restarted)
            for (const auto& [le0, cum0] : a.buckets)
                if (le0 == le) before = cum0;
        d.buckets.emplace_back(le, std::max(0.0, cum - before));
    }
    return d;
}

} // namespace

const char* remote_format_name(remote_format f) {
    switch (f) {
    case remote_format::vllm: return "vLLM";
    case remote_format::sglang: return "SGLang";
    case remote_format::llamacpp: return "llama-server";
    default: return "unknown";
    }
}

remote_format detect_remote_format(const prom::exposition& e) {
    remote_format best = remote_format::unknown;
    int best_count = 0;
    for (const auto& t : kTables) {
        const int n = known_names(e, t);
        if (n > best_count) {
            best = t.format;
            best_count = n;
        }
    }
    return best;
}

bool read_remote_scrape(const prom::exposition& e, double t_s, std::string_view source, remote_scrape& out,
                        std::string& error) {
    out = remote_scrape{};
    out.t_s = t_s;
    out.format = detect_remote_format(e);
    const name_table* t = table_for(out.format);
    if (!t) {
        error = "no vLLM, SGLang or llama-server metrics found at " + std::string(source);
        return false;
    }
    out.server = remote_format_name(out.format);
    if (out.format == remote_format::vllm &&
        std::any_of(e.samples.begin(), e.samples.end(), [](const sample& s) { return s.name.rfind("ridgeline:", 0) == 0; }))
        out.server = "ridgeline-serve";
    out.running = first_of(e, t->running, total);
    out.waiting = first_of(e, t->waiting, total);
    out.kv_usage = first_of(e, t->kv_usage, mean);
    out.gen_throughput = total(e, t->gen_throughput);
    out.cache_hit_rate = mean(e, t->cache_hit_rate);
    out.prompt_tokens = total(e, t->prompt_tokens);
    out.generation_tokens = total(e, t->generation_tokens);
    out.prefix_queries = total(e, t->prefix_queries);
    out.prefix_hits = total(e, t->prefix_hits);
    out.preemptions = total(e, t->preemptions);
    if (out.format == remote_format::llamacpp) read_llamacpp(e, out);
    if (out.format == remote_format::sglang) read_sglang(e, out);
    if (t->ttft) out.ttft = prom::read_histogram(e, t->ttft, primary_rank);
    for (const char* n : t->tpot)
        if (n && !out.tpot.present) out.tpot = prom::read_histogram(e, n, primary_rank);
    return true;
}

bool read_remote_scrape(std::string_view text, double t_s, std::string_view source, remote_scrape& out,
                        std::string& error) {
    prom::exposition e;
    std::string why;
    if (!prom::parse_prom_text(text, e, why)) {
        out = remote_scrape{};
        error = "no vLLM, SGLang or llama-server metrics found at " + std::string(source) +
                " (the reply is not Prometheus text: " + why + ")";
        return false;
    }
    return read_remote_scrape(e, t_s, source, out, error);
}

remote_sample remote_sample_between(const remote_scrape& prev, const remote_scrape& cur) {
    remote_sample s;
    s.t0_s = prev.t_s;
    s.t1_s = cur.t_s;
    s.running = cur.running;
    s.waiting = cur.waiting;
    s.kv_usage = cur.kv_usage;
    const double dt = cur.t_s - prev.t_s;
    bool reset = false;
    s.prompt_tokens = increase(prev.prompt_tokens, cur.prompt_tokens, reset);
    s.generation_tokens = increase(prev.generation_tokens, cur.generation_tokens, reset);
    if (!cur.generation_live && cur.format == remote_format::sglang && !std::isnan(cur.gen_throughput) && dt > 0) {
        // Only finished requests are counted: SGLang's own rate estimate (updated every few
        // dozen decode steps) is closer to now. llama-server's predicted_tokens_seconds is no
        // such thing: it is the rate of the requests that finished since the last scrape.
        s.generation_tokens = cur.gen_throughput * dt;
    }
    if (dt > 0) {
        s.prompt_tok_s = s.prompt_tokens / dt;
        s.generation_tok_s = s.generation_tokens / dt;
    }
    s.preemptions = increase(prev.preemptions, cur.preemptions, reset);
    const double queries = increase(prev.prefix_queries, cur.prefix_queries, reset);
    const double hits = increase(prev.prefix_hits, cur.prefix_hits, reset);
    if (queries > 0) s.prefix_hit_rate = hits / queries;
    else if (!std::isnan(cur.cache_hit_rate)) s.prefix_hit_rate = cur.cache_hit_rate;
    auto latency = [&](const prom::histogram& a, const prom::histogram& b, double& count, double& mean_s,
                       double& p50, double& p99) {
        const prom::histogram d = histogram_increase(a, b, reset);
        count = d.count;
        if (d.count <= 0) return;
        mean_s = d.sum / d.count;
        p50 = prom::histogram_quantile(0.5, d);
        p99 = prom::histogram_quantile(0.99, d);
    };
    latency(prev.ttft, cur.ttft, s.ttft_count, s.ttft_mean_s, s.ttft_p50_s, s.ttft_p99_s);
    latency(prev.tpot, cur.tpot, s.tpot_count, s.tpot_mean_s, s.tpot_p50_s, s.tpot_p99_s);
    if (!cur.tpot.present) {
        // llama-server: generation seconds over generated tokens of the requests that finished in
        // the interval. Its seconds run from the first token to the last, n - 1 steps for n
        // tokens, so this reads low by 1/n.
        const double secs = increase(prev.finished_gen_seconds, cur.finished_gen_seconds, reset);
        const double toks = increase(prev.finished_gen_tokens, cur.finished_gen_tokens, reset);
        if (toks > 0 && secs >= 0) {
            s.tpot_mean_only = true;
            s.tpot_count = toks;
            s.tpot_mean_s = secs / toks;
        }
    }
    s.counter_reset = reset;
    return s;
}

remote_notes remote_notes_for(const remote_scrape& s) {
    remote_notes n;
    const std::string who = s.server.empty() ? "this server" : s.server;
    if (!s.prompt_live) n.throughput = "prefill: " + who + " counts prompt tokens when a request ends";
    if (!s.generation_live) {
        if (!n.throughput.empty()) n.throughput += "; ";
        n.throughput += s.format == remote_format::sglang && !std::isnan(s.gen_throughput)
                            ? "decode: " + who + "'s own gen_throughput estimate"
                            : "decode: counted when a request ends";
    }
    if (std::isnan(s.kv_usage)) n.kv_cache = who + " exports no KV cache gauge";
    if (std::isnan(s.running) || std::isnan(s.waiting)) n.batch = who + " exports no running or waiting count";
    n.utilization = "not in /metrics: needs each step's batch shape, duration and the device peaks";
    std::string lat;
    if (!s.ttft.present) lat = "TTFT: not exported by " + who;
    if (!s.tpot.present) {
        if (!lat.empty()) lat += "; ";
        n.tpot_is_mean = !std::isnan(s.finished_gen_seconds) && !std::isnan(s.finished_gen_tokens);
        lat += n.tpot_is_mean ? "TPOT: mean of the requests finished in each scrape interval" : "TPOT: not exported";
    }
    n.latency = lat;
    const bool hits = !std::isnan(s.prefix_queries) || !std::isnan(s.cache_hit_rate);
    n.prefix_cache = hits ? "recomputed tok/s: not exported (Ridgeline's own)"
                          : "hit rate: not exported by " + who + "; recomputed tok/s: Ridgeline's own";
    return n;
}

} // namespace rl
