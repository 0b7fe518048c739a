// metrics_hub: percentiles by nearest rank, rolling rates over a window (idle time included),
// utilisation against the peaks, counters, history bounds and the step cursor.
#include "rl_test.h"

#include "metrics/metrics_hub.h"

class TestMetricsHub : public QObject {
    Q_OBJECT
private slots:
    void percentilesNearestRank() {
        std::vector<double> v;
        for (int i = 1; i <= 100; ++i) v.push_back(i);
        const auto p = rl::compute_percentiles(v);
        QCOMPARE(p.p50, 50.0);
        QCOMPARE(p.p90, 90.0);
        QCOMPARE(p.p99, 99.0);
        QCOMPARE(p.n, 100);
        QCOMPARE(rl::compute_percentiles({}).n, 0);
        QCOMPARE(rl::compute_percentiles({7}).p99, 7.0);
    }

    void rollingRatesCountIdleTime() {
        rl::metrics_hub hub(900, 5, 60);
        hub.set_peaks({1e12, 1e11, "test"});
        hub.set_kv_total(100);
        // 10 steps of 0.1 s in the last 5 s window: 1 s busy of 5 => 20 % busy.
        for (int i = 0; i < 10; ++i) {
            rl::step_record r;
            r.t_s = 100.0 + i * 0.4;
            r.duration_s = 0.1;
            r.decode_tokens = 8;
            r.prefill_tokens = 2;
            r.sampled_tokens = 8;
            r.num_running = 8;
            r.kv_used = 40;
            r.kv_cached = 10;
            r.kv_free = 50;
            r.flops = 1e10;   // 1e11 FLOP/s during the step = 10 % of peak
            r.bytes = 5e9;    // 5e10 B/s = 50 % of peak
            r.prefix_queries = 10;
            r.prefix_hits = 5;
            hub.record_step(r);
        }
        const auto s = hub.snapshot(104.0);
        QCOMPARE(s.steps, uint64_t(10));
        QVERIFY(std::abs(s.device_busy_perc - 0.2) < 1e-9);
        QVERIFY(std::abs(s.decode_tok_s - 80.0 / 5) < 1e-9);
        QVERIFY(std::abs(s.prefill_tok_s - 20.0 / 5) < 1e-9);
        // Utilisation over wall time: 10 * 1e10 FLOPs / 5 s / 1e12 = 2 %.
        QVERIFY(std::abs(s.flops_utilization - 0.02) < 1e-9);
        QVERIFY(std::abs(s.bandwidth_utilization - 0.10) < 1e-9);
        QVERIFY(std::abs(s.arithmetic_intensity - 2.0) < 1e-9);
        QVERIFY(std::abs(s.mean_batch - 8.0) < 1e-9);
        QVERIFY(std::abs(s.prefix_hit_rate - 0.5) < 1e-9);
        QCOMPARE(s.kv_cache_usage_perc, 0.4);
        QCOMPARE(s.generation_tokens, uint64_t(80));
        // Per-step utilisation against the peaks.
        const auto steps = hub.all_steps();
        QVERIFY(std::abs(steps[0].flops_util - 0.1) < 1e-9);
        QVERIFY(std::abs(steps[0].bw_util - 0.5) < 1e-9);
        // Much later, nothing in the window: rates drop to zero, counters stay.
        const auto later = hub.snapshot(200.0);
        QCOMPARE(later.decode_tok_s, 0.0);
        QCOMPARE(later.generation_tokens, uint64_t(80));
    }

    void cursorAndHistoryBound() {
        rl::metrics_hub hub(60, 5, 60);
        for (int i = 0; i < 1000; ++i) {
            rl::step_record r;
            r.t_s = i * 0.1;
            r.duration_s = 0.05;
            hub.record_step(r);
        }
        // history of 60 s at 10 steps/s keeps about 600 steps
        QVERIFY(hub.all_steps().size() <= 602);
        QVERIFY(hub.all_steps().size() >= 599);
        const auto s = hub.snapshot(100.0, 990);
        QCOMPARE(int(s.new_steps.size()), 10);
        QCOMPARE(s.new_steps.front().index, uint64_t(991));
        QCOMPARE(int(hub.snapshot(100.0, 0, 5).new_steps.size()), 5);
        QCOMPARE(int(hub.snapshot(100.0).new_steps.size()), 0);
    }

    // A fast GPU runs ~1,000 steps/s: the history is capped by count as well as age, and the
    // counters since start (steps, peaks, batch-time) do not depend on what the history kept.
    void historyCappedByCountCountersKeepCounting() {
        rl::metrics_hub hub(900, 5, 60, 100, 50);
        for (int i = 0; i < 1000; ++i) {
            rl::step_record r;
            r.t_s = i * 0.001;
            r.duration_s = 0.001;
            r.num_running = i == 10 ? 64 : 8;  // the peak batch is long gone from the history
            r.kv_used = i == 20 ? 900 : 100;
            r.prefill_tokens = 3;
            r.started_prompt_tokens = i % 2 ? 7 : 0;   // whole prompts: may exceed what was computed
            hub.record_step(r);
        }
        for (int i = 0; i < 80; ++i) {
            rl::request_record q;
            q.t_s = 1 + i * 0.01;
            q.rejected = i < 5;
            hub.record_request(q);
        }
        QCOMPARE(hub.all_steps().size(), size_t(100));
        QCOMPARE(hub.all_steps().back().index, uint64_t(1000));
        QCOMPARE(hub.all_requests().size(), size_t(50));
        const auto s = hub.snapshot(1.0);
        QCOMPARE(s.steps, uint64_t(1000));
        QCOMPARE(s.max_batch, 64);
        QCOMPARE(s.kv_used_peak, 900);
        QCOMPARE(s.prompt_tokens, uint64_t(3000));
        QCOMPARE(s.request_prompt_tokens, uint64_t(3500));
        QVERIFY(std::abs(s.batch_time_s - (999 * 8 + 64) * 0.001) < 1e-9);
        QCOMPARE(s.rejected_requests, uint64_t(5));
        QCOMPARE(s.requests_finished, uint64_t(75));
    }

    void latencyPercentilesSkipRejected() {
        rl::metrics_hub hub;
        for (int i = 1; i <= 10; ++i) {
            rl::request_record r;
            r.t_s = 10;
            r.ttft_s = i * 0.01;
            r.tpot_s = 0.02;
            r.e2e_s = 1;
            r.generated_tokens = 5;
            hub.record_request(r);
        }
        rl::request_record rej;
        rej.t_s = 10;
        rej.rejected = true;
        rej.ttft_s = 100;
        hub.record_request(rej);
        const auto s = hub.snapshot(11);
        QCOMPARE(s.ttft_s.n, 10);
        QCOMPARE(s.ttft_s.p50, 0.05);
        QCOMPARE(s.ttft_s.p99, 0.10);
        QCOMPARE(s.rejected_requests, uint64_t(1));
        QCOMPARE(s.requests_finished, uint64_t(10));
    }
};

RL_TEST_MAIN(TestMetricsHub, percentilesNearestRank, rollingRatesCountIdleTime, cursorAndHistoryBound,
             historyCappedByCountCountersKeepCounting, latencyPercentilesSkipRejected)
#include "test_metrics_hub.moc"
