// metrics_hub.cpp: see metrics_hub.h. Percentiles use the nearest-rank method.
#include "metrics/metrics_hub.h"

#include <algorithm>
#include <cmath>

namespace rl {

percentiles compute_percentiles(std::vector<double> v) {
    percentiles p;
    p.n = int(v.size());
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto rank = [&](double q) { return v[size_t(std::max(0.0, std::ceil(q * double(v.size())) - 1))]; };
    p.p50 = rank(0.50);
    p.p90 = rank(0.90);
    p.p99 = rank(0.99);
    return p;
}

metrics_hub::metrics_hub(double history_s, double rate_window_s, double latency_window_s, size_t max_steps,
                         size_t max_requests)
    : history_s_(history_s), rate_window_s_(rate_window_s), latency_window_s_(latency_window_s),
      max_steps_(std::max<size_t>(max_steps, 1)), max_requests_(std::max<size_t>(max_requests, 1)) {}

void metrics_hub::set_peaks(const device_peaks& p) {
    std::lock_guard lk(mu_);
    peaks_ = p;
}

device_peaks metrics_hub::peaks() const {
    std::lock_guard lk(mu_);
    return peaks_;
}

void metrics_hub::set_kv_total(int blocks) {
    std::lock_guard lk(mu_);
    kv_total_ = blocks;
}

void metrics_hub::record_step(step_record r) {
    std::lock_guard lk(mu_);
    r.index = next_index_++;
    if (r.duration_s > 0) {
        if (peaks_.flops > 0) r.flops_util = r.flops / r.duration_s / peaks_.flops;
        if (peaks_.bytes_per_s > 0) r.bw_util = r.bytes / r.duration_s / peaks_.bytes_per_s;
    }
    metrics_snapshot& t = totals_;
    ++t.steps;
    t.busy_s += r.duration_s;
    t.prompt_tokens += uint64_t(r.prefill_tokens);
    t.request_prompt_tokens += r.started_prompt_tokens;
    t.generation_tokens += uint64_t(r.sampled_tokens);
    t.iteration_tokens_total += uint64_t(r.tokens());
    t.prefix_cache_queries += r.prefix_queries;
    t.prefix_cache_hits += r.prefix_hits;
    t.num_preemptions += r.preemptions;
    t.kv_evicted_blocks += r.evicted_blocks;
    t.recomputed_tokens += r.recomputed_tokens;
    t.kv_window_freed_blocks += r.window_freed_blocks;
    t.max_batch = std::max(t.max_batch, r.num_running);
    t.kv_used_peak = std::max(t.kv_used_peak, r.kv_used);
    t.batch_time_s += r.num_running * r.duration_s;
    last_ = r;
    steps_.push_back(r);
    while (!steps_.empty() && (steps_.size() > max_steps_ || steps_.front().t_s < r.t_s - history_s_)) steps_.pop_front();
}

void metrics_hub::set_gauges(int running, int waiting, int kv_used, int kv_cached, int kv_free,
                             std::vector<std::pair<uint64_t, int>> waiting_places) {
    std::lock_guard lk(mu_);
    live_ = gauges{running, waiting, kv_used, kv_cached, kv_free, std::move(waiting_places)};
    has_live_ = true;
}

void metrics_hub::add_overhead(double seconds) {
    std::lock_guard lk(mu_);
    totals_.metrics_overhead_s += seconds;
}

void metrics_hub::record_request(const request_record& r) {
    std::lock_guard lk(mu_);
    if (r.rejected) ++totals_.rejected_requests;
    else if (r.cancelled) ++totals_.requests_cancelled;
    else ++totals_.requests_finished;
    requests_.push_back(r);
    while (!requests_.empty() && (requests_.size() > max_requests_ || requests_.front().t_s < r.t_s - history_s_))
        requests_.pop_front();
}

metrics_snapshot metrics_hub::snapshot(double now_s, uint64_t since_index, size_t max_steps) const {
    std::lock_guard lk(mu_);
    metrics_snapshot s = totals_;
    s.t_s = now_s;
    if (has_live_) {
        s.num_requests_running = live_.running;
        s.num_requests_waiting = live_.waiting;
        s.kv_used = live_.kv_used;
        s.kv_cached = live_.kv_cached;
        s.kv_free = live_.kv_free;
        s.waiting_places = live_.waiting_places;
    } else {
        s.num_requests_running = last_.num_running;
        s.num_requests_waiting = last_.num_waiting;
        s.kv_used = last_.kv_used;
        s.kv_cached = last_.kv_cached;
        s.kv_free = steps_.empty() ? kv_total_ : last_.kv_free;
    }
    s.kv_total = kv_total_;
    s.kv_cache_usage_perc = kv_total_ > 0 ? double(s.kv_used) / kv_total_ : 0;

    // Rolling rates over [now - window, now]; a step counts by the part of it inside the window.
    const double w0 = now_s - rate_window_s_;
    double busy = 0, flops = 0, bytes = 0, prefill = 0, decode = 0, batch_time = 0, q = 0, h = 0, rec = 0;
    for (auto it = steps_.rbegin(); it != steps_.rend() && it->t_s + it->duration_s > w0; ++it) {
        const double d = it->duration_s;
        const double inside = d > 0 ? std::clamp((it->t_s + d - std::max(w0, it->t_s)) / d, 0.0, 1.0) : 1.0;
        busy += d * inside;
        flops += it->flops * inside;
        bytes += it->bytes * inside;
        prefill += it->prefill_tokens * inside;
        decode += it->decode_tokens * inside;
        batch_time += it->num_running * d * inside;
        q += it->prefix_queries;
        h += it->prefix_hits;
        rec += it->recomputed_tokens * inside;
    }
    const double w = rate_window_s_;
    s.window_s = w;
    s.prefill_tok_s = prefill / w;
    s.decode_tok_s = decode / w;
    s.device_busy_perc = std::min(1.0, busy / w);
    if (peaks_.flops > 0) s.flops_utilization = flops / w / peaks_.flops;
    if (peaks_.bytes_per_s > 0) s.bandwidth_utilization = bytes / w / peaks_.bytes_per_s;
    s.arithmetic_intensity = bytes > 0 ? flops / bytes : 0;
    s.mean_batch = busy > 0 ? batch_time / busy : 0;
    s.prefix_hit_rate = q > 0 ? h / q : 0;
    s.recomputed_tok_s = rec / w;

    std::vector<double> ttft, tpot, e2e, queue;
    for (auto it = requests_.rbegin(); it != requests_.rend() && it->t_s >= now_s - latency_window_s_; ++it) {
        if (it->rejected || it->cancelled) continue;
        if (it->generated_tokens > 0) ttft.push_back(it->ttft_s);
        if (it->generated_tokens > 1) tpot.push_back(it->tpot_s);
        e2e.push_back(it->e2e_s);
        queue.push_back(it->queue_s);
    }
    s.ttft_s = compute_percentiles(std::move(ttft));
    s.tpot_s = compute_percentiles(std::move(tpot));
    s.e2e_s = compute_percentiles(std::move(e2e));
    s.queue_s = compute_percentiles(std::move(queue));

    if (since_index != UINT64_MAX) {
        auto first = std::upper_bound(steps_.begin(), steps_.end(), since_index,
                                      [](uint64_t i, const step_record& r) { return i < r.index; });
        const size_t n = size_t(steps_.end() - first);
        if (n > max_steps) first += long(n - max_steps);
        s.new_steps.assign(first, steps_.end());
    }
    return s;
}

std::vector<step_record> metrics_hub::all_steps() const {
    std::lock_guard lk(mu_);
    return {steps_.begin(), steps_.end()};
}

std::vector<request_record> metrics_hub::all_requests() const {
    std::lock_guard lk(mu_);
    return {requests_.begin(), requests_.end()};
}

} // namespace rl
