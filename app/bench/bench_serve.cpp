// ridgeline-bench serve: runs a load-generator scenario against the engine without a window and
// writes every step record (CSV) and a summary (JSON). See docs/performance.md for commands.
#include "bench_common.h"

#include "backend/host_info.h"
#include "runtime/load_generator.h"
#include "serving/sampler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include <unistd.h>

namespace {

nlohmann::json percentile_json(const rl::percentiles& p) {
    return {{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"n", p.n}};
}

void write_csv(const std::string& path, const std::vector<rl::step_record>& steps) {
    std::ofstream f(path);
    if (!f) throw bench_error{"cannot write " + path};
    f << "index,t_s,duration_s,prefill_tokens,decode_tokens,num_running,num_waiting,kv_used,kv_cached,kv_free,"
         "flops,bytes,flops_util,bw_util,preemptions,evicted_blocks,prefix_queries,prefix_hits,"
         "recomputed_tokens,finished,rejected\n";
    for (const auto& r : steps)
        f << r.index << ',' << r.t_s << ',' << r.duration_s << ',' << r.prefill_tokens << ',' << r.decode_tokens
          << ',' << r.num_running << ',' << r.num_waiting << ',' << r.kv_used << ',' << r.kv_cached << ','
          << r.kv_free << ',' << r.flops << ',' << r.bytes << ',' << r.flops_util << ',' << r.bw_util << ','
          << r.preemptions << ',' << r.evicted_blocks << ',' << r.prefix_queries << ',' << r.prefix_hits << ','
          << r.recomputed_tokens << ',' << r.finished << ',' << r.rejected << '\n';
}

} // namespace

int run_serve(const serve_bench_args& args) {
    const rl::engine_options& opt = args.engine;
    const rl::scenario& sc = args.scenario;
    const double duration = args.duration_s;

    auto eng = rl::engine::create(opt);
    const auto& info = eng->info();
    std::fprintf(stderr, "ridgeline-bench serve: %s on %s, %d KV blocks of %d, scenario %s, %d users, %.0f s\n",
                 info.model_name.c_str(), info.backend.c_str(), info.kv_blocks, info.block_size, sc.name.c_str(),
                 sc.users, duration);
    rl::load_generator gen(*eng, sc);
    const auto t0 = std::chrono::steady_clock::now();
    // Soak figures: resident memory once the pools, caches and histories have warmed up (10% of
    // the run, at most 60 s) and at the end, to show it stays flat.
    const double warmup = std::min(60.0, duration / 10);
    double rss_warm = -1, rss_peak = 0;
    gen.start();
    for (double t = 0; t < duration; t += 1.0) {
        std::this_thread::sleep_for(std::chrono::duration<double>(std::min(1.0, duration - t)));
        const double rss = rl::process_resident_mib();
        rss_peak = std::max(rss_peak, rss);
        if (rss_warm < 0 && t + 1 >= warmup) rss_warm = rss;
        const auto s = eng->snapshot();
        const auto c = gen.counters();
        std::fprintf(stderr, "  t=%4.0fs batch %3d waiting %3d kv %5.1f%% decode %7.1f tok/s finished %llu rejected %llu\n",
                     t + 1, s.num_requests_running, s.num_requests_waiting, 100 * s.kv_cache_usage_perc,
                     s.decode_tok_s, (unsigned long long)c.finished, (unsigned long long)c.rejected);
    }
    gen.stop();
    eng->wait_idle();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rss_end = rl::process_resident_mib();

    const auto steps = eng->step_history();
    const auto requests = eng->request_history();
    const auto snap = eng->snapshot();
    const auto lc = gen.counters();
    // Counts and peaks come from the engine's counters since start; the histories are bounded
    // (metrics_hub), so latency percentiles are over the last requests it keeps.
    std::vector<double> ttft, tpot, e2e, queue;
    for (const auto& r : requests) {
        if (r.rejected || r.cancelled) continue;
        if (r.generated_tokens > 0) ttft.push_back(r.ttft_s);
        if (r.generated_tokens > 1) tpot.push_back(r.tpot_s);
        e2e.push_back(r.e2e_s);
        queue.push_back(r.queue_s);
    }
    const uint64_t finished = snap.requests_finished, rejected = snap.rejected_requests,
                   cancelled = snap.requests_cancelled;
    const int max_batch = snap.max_batch, kv_peak = snap.kv_used_peak;
    const double busy = snap.busy_s, batch_time = snap.batch_time_s;
    const rl::device_peaks peaks = eng->peaks();
    nlohmann::json j = {
        {"command", args.command_line},
        {"model", info.model_name}, {"backend", info.backend}, {"scenario", sc.name}, {"users", sc.users},
        {"sampling", {{"temperature", sc.temperature}, {"top_p", sc.top_p}}},
        {"duration_s", wall}, {"kv_blocks", info.kv_blocks}, {"block_size", info.block_size},
        {"max_num_seqs", opt.serving.max_num_seqs}, {"max_num_batched_tokens", rl::resolve_step_budget(opt.serving, info.auto_batched_tokens).max_num_batched_tokens},
        {"peaks", {{"flops", peaks.flops}, {"bytes_per_s", peaks.bytes_per_s}, {"source", peaks.source}}},
        {"totals", {{"requests_finished", finished}, {"requests_rejected", rejected},
                    {"requests_cancelled_at_end", cancelled},
                    {"prompt_tokens", snap.prompt_tokens}, {"generation_tokens", snap.generation_tokens},
                    {"streamed_tokens", lc.streamed_tokens}, {"steps", snap.steps}}},
        {"throughput", {{"generation_tok_s", double(snap.generation_tokens) / wall},
                        {"total_tok_s", double(snap.iteration_tokens_total) / wall},
                        {"requests_per_s", double(finished) / wall}}},
        {"latency_requests", e2e.size()},
        {"latency_s", {{"ttft", percentile_json(rl::compute_percentiles(ttft))},
                       {"tpot", percentile_json(rl::compute_percentiles(tpot))},
                       {"e2e", percentile_json(rl::compute_percentiles(e2e))},
                       {"queue", percentile_json(rl::compute_percentiles(queue))}}},
        {"batch", {{"max", max_batch}, {"mean", busy > 0 ? batch_time / busy : 0}}},
        {"kv", {{"usage_peak_perc", info.kv_blocks ? double(kv_peak) / info.kv_blocks : 0}, {"peak_blocks", kv_peak}}},
        {"prefix_cache", {{"queries", snap.prefix_cache_queries}, {"hits", snap.prefix_cache_hits}}},
        {"evictions", snap.kv_evicted_blocks},
        {"preemptions", snap.num_preemptions},
        {"recomputed_tokens", snap.recomputed_tokens},
        {"device_busy_perc", wall > 0 ? busy / wall : 0},
        {"metrics_overhead_frac", snap.busy_s > 0 ? snap.metrics_overhead_s / snap.busy_s : 0},
        // Every submitted request must end finished, rejected (with a reason) or cancelled by the
        // stop at the end; "stuck" counts the ones the engine never ended.
        {"soak", {{"rss_after_warmup_mib", rss_warm}, {"rss_end_mib", rss_end}, {"rss_peak_mib", rss_peak},
                  {"rss_growth_perc", rss_warm > 0 ? 100 * (rss_end - rss_warm) / rss_warm : 0.0},
                  {"warmup_s", warmup}, {"submitted", lc.submitted},
                  {"ended", snap.requests_finished + snap.rejected_requests + snap.requests_cancelled},
                  {"stuck", int64_t(lc.submitted) - int64_t(snap.requests_finished + snap.rejected_requests +
                                                            snap.requests_cancelled)},
                  {"streamed_equals_generated", lc.streamed_tokens == snap.generation_tokens}}},
    };
    if (args.story) {
        // The counters each story is about, over every step of the run.
        rl::story_tally t;
        for (const auto& r : steps) t.add(r, info.auto_batched_tokens);
        t.rejected = snap.rejected_requests;
        const uint64_t counter = args.story->counter(t);
        j["story"] = {{"name", args.story->name}, {"title", args.story->title}, {"watch", args.story->watch},
                      {"counter", counter}, {"seen", counter > 0},
                      {"preemptions", t.preemptions}, {"evicted_blocks", t.evicted_blocks},
                      {"recomputed_tokens", t.recomputed_tokens}, {"rejected", t.rejected},
                      {"max_batch", t.max_batch}, {"prefill_steps", t.prefill_steps},
                      {"decode_steps", t.decode_steps},
                      {"decodes_behind_long_prefill", t.decodes_behind_long_prefill},
                      {"long_prefill_tokens", info.auto_batched_tokens}};
    }
    j["max_model_len"] = info.context_length;
    j["auto_batched_tokens"] = info.auto_batched_tokens;
    if (!args.csv.empty()) write_csv(args.csv, steps);
    const std::string text = j.dump(2);
    if (!args.json.empty()) {
        std::ofstream f(args.json);
        if (!f) throw bench_error{"cannot write " + args.json};
        f << text << '\n';
    }
    std::printf("%s\n", text.c_str());
    return 0;
}
