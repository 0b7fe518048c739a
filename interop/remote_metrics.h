// remote_metrics: what the workbench's plots need, read from another server's /metrics page.
// Knows which metric names vLLM, SGLang and llama-server (and ridgeline-serve, which writes vLLM's
// names) use for running and waiting requests, KV fill, prompt and generation token counters,
// prefix-cache hits and the TTFT/TPOT histograms; detects the engine from the names; turns two
// successive scrapes into one remote_sample (counter deltas over the elapsed time, resets handled
// as Prometheus' rate() does); and says, per plot, what a server's page cannot supply
// (remote_notes_for). Names and their version history: remote_metrics.cpp. Pure C++, no Qt.
// Exercise: tests/test_remote_metrics.cpp (fixtures in tests/data/remote/), tests/test_remote_serve.cpp.
#pragma once
#include "interop/prom_text.h"

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

namespace rl {

enum class remote_format { unknown, vllm, sglang, llamacpp };

/// "vLLM", "SGLang", "llama-server" or "unknown".
const char* remote_format_name(remote_format f);

/// The engine whose metric names the page uses (the one with the most known names present).
remote_format detect_remote_format(const prom::exposition& e);

/// One scrape, engine-neutral. NaN: the engine (or this version of it) does not export the value.
struct remote_scrape {
    static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    remote_format format = remote_format::unknown;
    std::string server;          ///< "vLLM", "SGLang", "llama-server" or "ridgeline-serve"
    double t_s = 0;              ///< when it was taken, on the caller's clock
    // Gauges.
    double running = kNaN, waiting = kNaN;
    double kv_usage = kNaN;      ///< fraction of the KV pool in use, 0..1
    double gen_throughput = kNaN;  ///< the engine's own tok/s estimate (SGLang, llama-server), if any
    double cache_hit_rate = kNaN;  ///< the engine's own prefix-cache hit rate gauge (SGLang)
    // Counters since the server started.
    double prompt_tokens = kNaN;       ///< prompt tokens computed (llama-server: cached ones excluded)
    /// Tokens generated. Where the server counts them only when a request ends (llama-server's
    /// tokens_predicted_total, older SGLang) a live estimate is used instead: llama-server's busy
    /// slots summed over its llama_decode() calls (one token per generating slot per call).
    double generation_tokens = kNaN;
    bool generation_live = true;       ///< false: generation_tokens grows only when requests end
    bool prompt_live = true;           ///< false: prompt_tokens grows only when requests end
    double prefix_queries = kNaN, prefix_hits = kNaN;   ///< prompt tokens looked up / found cached
    double preemptions = kNaN;         ///< vLLM preemptions, SGLang retractions
    /// Generation time and tokens of finished requests (llama-server): their ratio is a mean TPOT
    /// where the server has no TPOT histogram.
    double finished_gen_seconds = kNaN, finished_gen_tokens = kNaN;
    // Histograms (seconds).
    prom::histogram ttft, tpot;
};

/// Parses and reads one page. False with a message naming `source` (the URL) when the page is not
/// Prometheus text or holds no metrics of a known engine.
bool read_remote_scrape(std::string_view text, double t_s, std::string_view source, remote_scrape& out,
                        std::string& error);
/// The same from an already parsed page (format detection included).
bool read_remote_scrape(const prom::exposition& e, double t_s, std::string_view source, remote_scrape& out,
                        std::string& error);

/// What happened between two scrapes. Rates are per second of the interval; gauges are those of
/// the later scrape. NaN where the engine does not export the input.
struct remote_sample {
    static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    double t0_s = 0, t1_s = 0;
    double running = kNaN, waiting = kNaN, kv_usage = kNaN;
    double prompt_tokens = kNaN, generation_tokens = kNaN;   ///< counter deltas over the interval
    double prompt_tok_s = kNaN, generation_tok_s = kNaN;
    double ttft_count = 0;                ///< first tokens observed in the interval
    double ttft_mean_s = kNaN, ttft_p50_s = kNaN, ttft_p99_s = kNaN;   ///< NaN when ttft_count is 0
    double tpot_count = 0;
    double tpot_mean_s = kNaN, tpot_p50_s = kNaN, tpot_p99_s = kNaN;
    bool tpot_mean_only = false;          ///< no histogram: tpot_mean_s from finished requests' totals
    double prefix_hit_rate = kNaN;        ///< hits / queries in the interval (vLLM), or SGLang's gauge
    double preemptions = kNaN;
    bool counter_reset = false;           ///< some counter went down: the server restarted
};

/// The interval from `prev` to `cur` (cur.t_s > prev.t_s). A counter that went down is taken to
/// have restarted from zero, so its delta is its current value (Prometheus' rate()).
remote_sample remote_sample_between(const remote_scrape& prev, const remote_scrape& cur);

/// What a server's /metrics cannot supply to each plot, as one line to show on it ("" = nothing
/// missing). Read from what the scrape holds, so an engine version that adds a metric loses its note.
struct remote_notes {
    std::string throughput, kv_cache, batch, utilization, latency, prefix_cache;
    bool tpot_is_mean = false;   ///< the TPOT line is a mean of finished requests, not a p50
    bool operator==(const remote_notes&) const = default;
};
remote_notes remote_notes_for(const remote_scrape& s);

} // namespace rl
