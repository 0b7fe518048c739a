// Remote mode's pure core: the Prometheus text parser (interop/prom_text) and the engine
// name tables, interval arithmetic and plot notes (interop/remote_metrics). Fixtures in
// tests/data/remote/ (its README says where each came from): real llama-server scrapes, and
// hand-written vLLM and SGLang pages; the expected numbers below are worked out by hand from them.
#include "rl_test.h"

#include "interop/prom_text.h"
#include "interop/remote_metrics.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string fixture(const char* name) {
    std::ifstream f(std::string(RL_TEST_DATA) + "/data/remote/" + name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool near(double a, double b, double tol = 1e-9) { return std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b)); }

// Parses; on failure the error is returned (empty on success).
std::string parseError(const std::string& text) {
    rl::prom::exposition e;
    std::string err;
    rl::prom::parse_prom_text(text, e, err);
    return err;
}

bool scrape(const std::string& text, double t, rl::remote_scrape& out, std::string* err = nullptr) {
    std::string e;
    const bool ok = rl::read_remote_scrape(text, t, "http://test/metrics", out, e);
    if (err) *err = e;
    return ok;
}

} // namespace

class TestRemoteMetrics : public QObject {
    Q_OBJECT
private slots:
    void parsesSamplesLabelsAndEscapes() {
        const std::string text =
            "# HELP m_total A \\\\ help\\nline\n"
            "# TYPE m_total counter\n"
            "m_total{a=\"x\",b=\"say \\\"hi\\\"\\n\\\\\"} 12.5\n"
            "\n"
            "  # a plain comment is ignored\n"
            "g{} +Inf\n"
            "g2 -Inf 1700000000000\n"
            "n{le=\"0.5\",} NaN\r\n"
            "e 1.5e+03\n";
        rl::prom::exposition e;
        std::string err;
        QVERIFY2(rl::prom::parse_prom_text(text, e, err), err.c_str());
        QCOMPARE(e.samples.size(), size_t(5));
        const auto& m = e.samples[0];
        QCOMPARE(m.name, std::string("m_total"));
        QCOMPARE(m.labels.size(), size_t(2));
        QCOMPARE(*m.label("a"), std::string("x"));
        QCOMPARE(*m.label("b"), std::string("say \"hi\"\n\\"));
        QVERIFY(m.label("c") == nullptr);
        QCOMPARE(m.value, 12.5);
        QCOMPARE(e.families["m_total"].help, std::string("A \\ help\nline"));
        QVERIFY(e.type_of("m_total") == rl::prom::metric_type::counter);
        QVERIFY(std::isinf(e.samples[1].value) && e.samples[1].value > 0);
        QVERIFY(e.samples[1].labels.empty());
        QVERIFY(std::isinf(e.samples[2].value) && e.samples[2].value < 0);
        QVERIFY(e.samples[2].has_timestamp);
        QCOMPARE(e.samples[2].timestamp_ms, int64_t(1700000000000));
        QVERIFY(!e.samples[1].has_timestamp);
        QVERIFY(std::isnan(e.samples[3].value));   // trailing comma in labels and CRLF accepted
        QCOMPARE(*e.samples[3].label("le"), std::string("0.5"));
        QCOMPARE(e.samples[4].value, 1500.0);
    }

    void typesResolveThroughFamilies() {
        const std::string text =
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
            "# TYPE c counter\nc_total 4\n# TYPE s summary\ns_sum 1\ns_count 1\n# TYPE g gauge\ng 1\nu 2\n";
        rl::prom::exposition e;
        std::string err;
        QVERIFY2(rl::prom::parse_prom_text(text, e, err), err.c_str());
        using mt = rl::prom::metric_type;
        QVERIFY(e.type_of("h_bucket") == mt::histogram);
        QVERIFY(e.type_of("h_sum") == mt::histogram);
        QVERIFY(e.type_of("c_total") == mt::counter);   // prometheus_client's spelling
        QVERIFY(e.type_of("s_count") == mt::summary);
        QVERIFY(e.type_of("g") == mt::gauge);
        QVERIFY(e.type_of("u") == mt::untyped);
        const rl::prom::histogram h = rl::prom::read_histogram(e, "h");
        QVERIFY(h.present);
        QCOMPARE(h.buckets.size(), size_t(2));
        QVERIFY(std::isinf(h.buckets[1].first));
        QCOMPARE(h.count, 2.0);
        QCOMPARE(h.sum, 3.0);
        // Half the observations are <= 1: the median sits at the top of the first bucket.
        QCOMPARE(rl::prom::histogram_quantile(0.5, h), 1.0);
        // The rest are in the open bucket: Prometheus answers its lower edge.
        QCOMPARE(rl::prom::histogram_quantile(0.99, h), 1.0);
        QVERIFY(std::isnan(rl::prom::histogram_quantile(0.5, rl::prom::histogram{})));
    }

    void malformedLinesGiveLineNumbers() {
        struct Case {
            const char* text;
            const char* expect;   // substring of the error
        };
        const Case cases[] = {
            {"ok 1\nbad{a=\"x\" 1\n", "line 2: expected ',' or '}'"},
            {"a{b=\"unterminated} 1\n", "line 1: unterminated value of label 'b'"},
            {"a{b=\"\\q\"} 1\n", "invalid escape"},
            {"a{b=\"1\",b=\"2\"} 1\n", "label 'b' given twice"},
            {"a{=\"1\"} 1\n", "expected a label name"},
            {"a{b:c=\"1\"} 1\n", "expected '=' after label 'b'"},
            {"a{b 1\n", "expected '='"},
            {"a{b=1} 1\n", "expected '\"'"},
            {"a\n", "expected a value after 'a'"},
            {"a one\n", "invalid value 'one'"},
            {"a 0x10\n", "invalid value"},
            {"a 1 2 3\n", "after the timestamp"},
            {"a 1 1.5\n", "invalid timestamp"},
            {"\n\n9a 1\n", "line 3: expected a metric name"},
            {"{a=\"b\"} 1\n", "expected a metric name"},
            {"# TYPE a bogus\n", "unknown metric type 'bogus'"},
            {"# TYPE\n", "expected a metric name after # TYPE"},
            {"# HELP 1x y\n", "expected a metric name after # HELP"},
            {"{\"status\":\"ok\"}", "line 1:"},
        };
        for (const Case& c : cases) {
            const std::string err = parseError(c.text);
            QVERIFY2(err.find(c.expect) != std::string::npos, (std::string(c.text) + " -> '" + err + "'").c_str());
        }
        // A NUL inside a line (std::string keeps it) is an error, not a truncation.
        QVERIFY(parseError(std::string("a 1\nb\0 1\n", 9)).find("line 2") != std::string::npos);
        // Bounded: a page over the limit is refused before any parsing.
        const std::string huge(rl::prom::kMaxPromTextBytes + 1, '#');
        QVERIFY(parseError(huge).find("limit") != std::string::npos);
        // "# EOF" ends the page (OpenMetrics); nothing after it is read.
        rl::prom::exposition e;
        std::string err;
        QVERIFY(rl::prom::parse_prom_text("a 1\n# EOF\ngarbage{\n", e, err));
        QCOMPARE(e.samples.size(), size_t(1));
        // Empty input is a valid, empty page.
        QVERIFY(rl::prom::parse_prom_text("", e, err));
        QVERIFY(e.samples.empty());
    }

    void fuzzedInputNeverCrashes() {
        // Every prefix and single-byte corruption of a real page parses or fails cleanly.
        const std::string base = fixture("vllm-1.txt");
        QVERIFY(!base.empty());
        int failures = 0;
        for (size_t n = 0; n < base.size(); n += 37) {
            if (!parseError(base.substr(0, n)).empty()) ++failures;
            std::string bent = base;
            bent[n] = char(bent[n] ^ 0x5a);
            const std::string err = parseError(bent);
            if (!err.empty()) {
                ++failures;
                QVERIFY2(err.rfind("line ", 0) == 0, err.c_str());
            }
        }
        QVERIFY(failures > 0);   // corruption was noticed somewhere
    }

    void detectsEachEngine() {
        rl::remote_scrape s;
        std::string err;
        QVERIFY2(scrape(fixture("vllm-1.txt"), 0, s, &err), err.c_str());
        QVERIFY(s.format == rl::remote_format::vllm);
        QCOMPARE(s.server, std::string("vLLM"));
        QVERIFY2(scrape(fixture("sglang-1.txt"), 0, s, &err), err.c_str());
        QVERIFY(s.format == rl::remote_format::sglang);
        QCOMPARE(s.server, std::string("SGLang"));
        QVERIFY2(scrape(fixture("llamacpp-idle.txt"), 0, s, &err), err.c_str());
        QVERIFY(s.format == rl::remote_format::llamacpp);
        QCOMPARE(s.server, std::string("llama-server"));
        // ridgeline-serve writes vLLM's names plus its own.
        QVERIFY(scrape("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 0\n"
                       "ridgeline:flops_utilization{model_name=\"m\"} 0.1\n", 0, s));
        QCOMPARE(s.server, std::string("ridgeline-serve"));
    }

    void unknownFormatIsAClearError() {
        rl::remote_scrape s;
        std::string err;
        QVERIFY(!scrape("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 4.2\n", 0, s, &err));
        QCOMPARE(err, std::string("no vLLM, SGLang or llama-server metrics found at http://test/metrics"));
        QVERIFY(s.format == rl::remote_format::unknown);
        // Not Prometheus text at all (a JSON health page): the same sentence, and why.
        QVERIFY(!scrape("{\"status\":\"ok\"}", 0, s, &err));
        QVERIFY2(err.rfind("no vLLM, SGLang or llama-server metrics found at http://test/metrics", 0) == 0, err.c_str());
        QVERIFY2(err.find("line 1") != std::string::npos, err.c_str());
    }

    void vllmInterval() {
        rl::remote_scrape a, b;
        QVERIFY(scrape(fixture("vllm-1.txt"), 10.0, a));
        QVERIFY(scrape(fixture("vllm-2.txt"), 12.0, b));
        const rl::remote_sample s = rl::remote_sample_between(a, b);
        QCOMPARE(s.t0_s, 10.0);
        QCOMPARE(s.t1_s, 12.0);
        QCOMPARE(s.running, 8.0);
        QCOMPARE(s.waiting, 3.0);
        QCOMPARE(s.kv_usage, 0.5);
        QCOMPARE(s.prompt_tokens, 600.0);
        QCOMPARE(s.prompt_tok_s, 300.0);          // (1600 - 1000) / 2 s
        QCOMPARE(s.generation_tok_s, 200.0);      // (5400 - 5000) / 2 s
        QCOMPARE(s.ttft_count, 4.0);
        QVERIFY(near(s.ttft_mean_s, 0.2));        // (2.3 - 1.5) / (14 - 10)
        // Interval buckets: 2 in (0.1, 0.25], 2 in (0.25, 0.5]: p50 at the top of the first,
        // p99 = 0.25 + 0.25 * (3.96 - 2) / 2.
        QVERIFY(near(s.ttft_p50_s, 0.25));
        QVERIFY(near(s.ttft_p99_s, 0.495));
        QCOMPARE(s.tpot_count, 396.0);            // inter_token_latency_seconds, the newer name
        QVERIFY(near(s.tpot_mean_s, (26.93 - 24.95) / 396.0));
        QVERIFY(near(s.prefix_hit_rate, 0.5));    // 300 hits of 600 queried tokens
        QCOMPARE(s.preemptions, 1.0);
        QVERIFY(!s.counter_reset);
    }

    void vllmOlderKvName() {
        // vLLM before kv_cache_usage_perc wrote gpu_cache_usage_perc.
        rl::remote_scrape s;
        QVERIFY(scrape("vllm:num_requests_running{model_name=\"m\"} 1.0\nvllm:gpu_cache_usage_perc{model_name=\"m\"} 0.75\n", 0, s));
        QCOMPARE(s.kv_usage, 0.75);
        QVERIFY(std::isnan(s.prompt_tokens));     // absent, not zero
    }

    void sglangInterval() {
        // A release with realtime_tokens_total: prompt, decode and cache hits are live.
        rl::remote_scrape a, b;
        QVERIFY(scrape(fixture("sglang-1.txt"), 0.0, a));
        QVERIFY(scrape(fixture("sglang-2.txt"), 5.0, b));
        QVERIFY(b.prompt_live && b.generation_live);
        const rl::remote_sample s = rl::remote_sample_between(a, b);
        QCOMPARE(s.running, 5.0);
        QCOMPARE(s.waiting, 2.0);
        QCOMPARE(s.kv_usage, 0.2);
        QCOMPARE(s.prompt_tok_s, 300.0);          // realtime prefill_compute: 1500 / 5 s
        QCOMPARE(s.generation_tok_s, 200.0);      // realtime decode: 1000 / 5 s
        QCOMPARE(s.ttft_count, 5.0);
        QVERIFY(near(s.ttft_mean_s, 0.4));        // 2 s over 5 first tokens
        QVERIFY(near(s.ttft_p50_s, 0.45));        // rank 2.5: half-way into the 2 in (0.4, 0.6]
        QVERIFY(near(s.prefix_hit_rate, 0.4));    // prefill_cache 1000 of 1000 + 1500 prompt tokens
        QCOMPARE(b.gen_throughput, 198.25);
        QCOMPARE(s.preemptions, 1.0);             // num_retracted_requests_total
        QCOMPARE(s.tpot_count, 1000.0);           // inter_token_latency_seconds: 1000 gaps in (0.015, 0.02]
        QVERIFY(near(s.tpot_mean_s, 0.018));      // (125.1 - 107.1) / 1000
        QVERIFY(near(s.tpot_p50_s, 0.0175));      // rank 500 of the bucket's 1000: half-way into it
        const rl::remote_notes n = rl::remote_notes_for(b);
        QVERIFY(n.throughput.empty() && n.kv_cache.empty() && n.latency.empty());
    }

    void sglangOlderRelease() {
        // Without realtime_tokens_total the token counters grow only when requests finish: the
        // decode rate is SGLang's own gen_throughput, the hit rate its cache_hit_rate gauge.
        auto strip = [](std::string t) {
            std::string out, line;
            std::istringstream in(t);
            while (std::getline(in, line))
                if (line.find("realtime_tokens_total") == std::string::npos) out += line + "\n";
            return out;
        };
        rl::remote_scrape a, b;
        QVERIFY(scrape(strip(fixture("sglang-1.txt")), 0.0, a));
        QVERIFY(scrape(strip(fixture("sglang-2.txt")), 5.0, b));
        QVERIFY(!b.prompt_live && !b.generation_live);
        const rl::remote_sample s = rl::remote_sample_between(a, b);
        QCOMPARE(s.prompt_tok_s, 500.0);          // prompt_tokens_total: 2.5e3 / 5 s
        QCOMPARE(s.generation_tok_s, 198.25);     // the gauge, not 1e3 / 5 s of finished requests
        QVERIFY(near(s.prefix_hit_rate, 0.35));
        const rl::remote_notes n = rl::remote_notes_for(b);
        QCOMPARE(n.throughput, std::string("prefill: SGLang counts prompt tokens when a request ends; "
                                           "decode: SGLang's own gen_throughput estimate"));
    }

    void sglangRanks() {
        // Tensor-parallel ranks repeat one scheduler (counted once); data-parallel ranks add up.
        rl::remote_scrape s;
        QVERIFY(scrape("sglang:num_running_reqs{tp_rank=\"0\",dp_rank=\"0\"} 4\n"
                       "sglang:num_running_reqs{tp_rank=\"1\",dp_rank=\"0\"} 4\n"
                       "sglang:num_running_reqs{tp_rank=\"0\",dp_rank=\"1\"} 2\n"
                       "sglang:token_usage{tp_rank=\"0\",dp_rank=\"0\"} 0.2\n"
                       "sglang:token_usage{tp_rank=\"0\",dp_rank=\"1\"} 0.4\n", 0, s));
        QCOMPARE(s.running, 6.0);
        QVERIFY(near(s.kv_usage, 0.3));           // a fraction: the mean, not the sum
    }

    void llamacppLiveDecodeFromBusySlots() {
        // tokens_predicted_total only grows when a request ends; the live count is busy slots
        // summed over decode calls, exported as n_busy_slots_per_decode x n_decode_total.
        auto page = [](double calls, double per_call, double prompt, double cached, double predicted, double secs) {
            return "llamacpp:prompt_tokens_total " + std::to_string(prompt) +
                   "\nllamacpp:prompt_tokens_cached_total " + std::to_string(cached) +
                   "\nllamacpp:tokens_predicted_total " + std::to_string(predicted) +
                   "\nllamacpp:tokens_predicted_seconds_total " + std::to_string(secs) +
                   "\nllamacpp:n_decode_total " + std::to_string(calls) +
                   "\n# TYPE llamacpp:n_busy_slots_per_decode gauge\nllamacpp:n_busy_slots_per_decode " +
                   std::to_string(per_call) + "\nllamacpp:requests_processing 2\nllamacpp:requests_deferred 0\n";
        };
        rl::remote_scrape a, b, c;
        QVERIFY(scrape(page(10, 1.0, 100, 0, 0, 0), 0.0, a));
        QVERIFY(scrape(page(60, 1.5, 130, 30, 0, 0), 2.0, b));      // streaming: nothing finished
        QVERIFY(scrape(page(70, 1.5, 130, 30, 40, 2.0), 3.0, c));   // 15 more; a 40-token reply ended
        QVERIFY(a.generation_live);
        rl::remote_sample s = rl::remote_sample_between(a, b);
        QCOMPARE(s.generation_tokens, 80.0);      // 60 x 1.5 - 10 x 1
        QCOMPARE(s.generation_tok_s, 40.0);
        QCOMPARE(s.prompt_tok_s, 15.0);           // 30 computed prompt tokens / 2 s
        QVERIFY(near(s.prefix_hit_rate, 0.5));    // 30 cached of 30 + 30
        QVERIFY(std::isnan(s.tpot_mean_s));       // no request finished in the interval
        s = rl::remote_sample_between(b, c);
        QCOMPARE(s.generation_tokens, 15.0);      // 70 x 1.5 - 90
        QVERIFY(s.tpot_mean_only);
        QVERIFY(near(s.tpot_mean_s, 0.05));       // 2 s over 40 tokens
        QVERIFY(std::isnan(s.prefix_hit_rate));   // no prompt looked up
        QVERIFY(std::isnan(s.kv_usage));          // no KV gauge: NaN, never a made-up 0
        const rl::remote_notes n = rl::remote_notes_for(c);
        QCOMPARE(n.kv_cache, std::string("llama-server exports no KV cache gauge"));
        QCOMPARE(n.latency, std::string("TTFT: not exported by llama-server; "
                                        "TPOT: mean of the requests finished in each scrape interval"));
        QVERIFY(n.tpot_is_mean && n.throughput.empty());
        // A build without n_decode_total: only finished requests count, and the plot says so.
        rl::remote_scrape old;
        QVERIFY(scrape("llamacpp:requests_processing 1\nllamacpp:tokens_predicted_total 5\n"
                       "llamacpp:predicted_tokens_seconds 2.5\n", 0, old));
        QVERIFY(!old.generation_live);
        QCOMPARE(old.generation_tokens, 5.0);
        QCOMPARE(rl::remote_notes_for(old).throughput, std::string("decode: counted when a request ends"));
        // Its predicted_tokens_seconds is the rate of requests finished since the last scrape, not
        // a live estimate: the interval keeps the finished count.
        rl::remote_scrape old2;
        QVERIFY(scrape("llamacpp:requests_processing 0\nllamacpp:tokens_predicted_total 25\n"
                       "llamacpp:predicted_tokens_seconds 0\n", 2, old2));
        QCOMPARE(rl::remote_sample_between(old, old2).generation_tokens, 20.0);
    }

    void llamacppRealScrapes() {
        // Real llama-server pages (dev/remote/scrape-llama-server.sh): idle, mid-stream (40 prompt
        // tokens done, 39 decode calls with one busy slot), after (that 200-token reply and a second
        // of 200 whose 40-token prompt found 39 tokens cached on its slot).
        rl::remote_scrape idle, mid, after;
        QVERIFY(scrape(fixture("llamacpp-idle.txt"), 0.0, idle));
        QVERIFY(scrape(fixture("llamacpp-mid.txt"), 4.0, mid));
        QVERIFY(scrape(fixture("llamacpp-after.txt"), 150.0, after));
        QCOMPARE(after.format, rl::remote_format::llamacpp);
        QVERIFY(std::isnan(after.kv_usage));
        rl::remote_sample s = rl::remote_sample_between(idle, mid);
        QCOMPARE(s.running, 1.0);
        QCOMPARE(s.prompt_tokens, 40.0);
        QCOMPARE(s.generation_tokens, 39.0);      // live: tokens_predicted_total is still 0 here
        QCOMPARE(mid.finished_gen_tokens, 0.0);
        QVERIFY(near(s.generation_tok_s, 9.75));  // 39 / 4 s
        QCOMPARE(s.prefix_hit_rate, 0.0);         // 0 of 40 prompt tokens cached
        QVERIFY(std::isnan(s.tpot_mean_s));       // nothing finished yet
        s = rl::remote_sample_between(mid, after);
        QCOMPARE(s.running, 0.0);
        QCOMPARE(s.generation_tokens, 361.0);     // 400 decode calls x 1 busy slot - 39
        QCOMPARE(s.prompt_tokens, 1.0);
        QVERIFY(near(s.prefix_hit_rate, 39.0 / 40.0));   // 39 cached, 1 computed
        QVERIFY(s.tpot_mean_only);
        QVERIFY(near(s.tpot_mean_s, 141.4 / 400.0));     // tokens_predicted_seconds_total / _total
        // Over the whole run the live count equals what finished: 2 x 200 tokens.
        QCOMPARE(rl::remote_sample_between(idle, after).generation_tokens, 400.0);
        QCOMPARE(after.finished_gen_tokens, 400.0);
    }

    void counterReset() {
        // The server restarted between scrapes: counters and the histogram start again from zero.
        rl::remote_scrape a, b;
        QVERIFY(scrape(fixture("vllm-2.txt"), 0.0, a));
        QVERIFY(scrape(fixture("vllm-1.txt"), 4.0, b));
        const rl::remote_sample s = rl::remote_sample_between(a, b);
        QVERIFY(s.counter_reset);
        QCOMPARE(s.prompt_tokens, 1000.0);        // the whole new value, as Prometheus' rate()
        QCOMPARE(s.prompt_tok_s, 250.0);
        QCOMPARE(s.generation_tok_s, 1250.0);
        QCOMPARE(s.ttft_count, 10.0);
        QVERIFY(near(s.ttft_mean_s, 0.15));
        QVERIFY(!rl::remote_sample_between(a, a).counter_reset);
    }
};

RL_TEST_MAIN(TestRemoteMetrics, parsesSamplesLabelsAndEscapes, typesResolveThroughFamilies,
             malformedLinesGiveLineNumbers, fuzzedInputNeverCrashes, detectsEachEngine, unknownFormatIsAClearError,
             vllmInterval, vllmOlderKvName, sglangInterval, sglangOlderRelease, sglangRanks, llamacppLiveDecodeFromBusySlots,
             llamacppRealScrapes, counterReset)
#include "test_remote_metrics.moc"
