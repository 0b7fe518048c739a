// load_generator on the real model (CPU backend): virtual users submit real text, stream, finish;
// streamed tokens equal the engine's generation count (users sampling at temperature 0.7);
// presets and bad scenarios (an impossible top_p) are checked.
#include "rl_test.h"

#include "common/engine_error.h"
#include "runtime/engine.h"
#include "runtime/load_generator.h"

#include <fstream>
#include <thread>

class TestLoadGenerator : public QObject {
    Q_OBJECT
private slots:
    void presetsExistAndUnknownIsRefused() {
        for (const auto& n : rl::scenario_names()) QCOMPARE(rl::scenario_preset(n).name, n);
        QCOMPARE(rl::scenario_preset("summarize").prompt_tokens, 1500);
        QCOMPARE(rl::scenario_preset("write").output_tokens, 800);
        QVERIFY(rl::scenario_preset("ramp").ramp_s > 0);
        bool threw = false;
        try { rl::scenario_preset("nope"); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("idle-return") != std::string::npos;
        }
        QVERIFY(threw);
        // Impossible sampling settings are refused with the reason, before any user starts.
        rl::scenario bad = rl::scenario_preset("chat");
        bad.top_p = 0.f;
        std::string why;
        try {
            rl::engine_options o;
            o.model_path = "synthetic:smollm2-135m";
            o.calibrate = false;
            o.serving.max_model_len = 64;
            o.serving.kv_blocks = 16;
            auto eng = rl::engine::create(o);
            rl::load_generator gen(*eng, bad);
        } catch (const rl::engine_error& e) { why = e.what(); }
        QVERIFY2(why.find("top_p") != std::string::npos, why.c_str());
    }

    void virtualUsersDriveTheEngine() {
        if (!std::ifstream(RL_MODEL_PATH).good()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o;
        o.model_path = RL_MODEL_PATH;
        o.serving.max_model_len = 512;
        o.calibrate = false;
        auto eng = rl::engine::create(o);
        rl::scenario sc = rl::scenario_preset("chat");
        sc.users = 3;
        sc.think_mean_s = 0.05;
        sc.prompt_tokens = 16;
        sc.output_tokens = 6;
        sc.temperature = 0.7f;  // sampled, not greedy: the host sampler path on the CPU
        sc.top_p = 0.9f;
        rl::load_generator gen(*eng, sc);
        gen.start();
        bool sawInFlight = false, sawStalled = false;
        for (int i = 0; i < 1200 && gen.counters().finished < 6; ++i) {  // up to 120 s on a busy machine
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const auto c = gen.counters(0.0);  // every silent request counts as stalled at 0 s
            sawInFlight = sawInFlight || c.in_flight > 0;
            sawStalled = sawStalled || c.stalled > 0;
            QVERIFY(c.in_flight <= sc.users && c.stalled <= c.in_flight);
        }
        QVERIFY(sawInFlight && sawStalled);
        gen.stop();
        eng->wait_idle();
        const auto c = gen.counters();
        QVERIFY2(c.finished >= 6, ("finished " + std::to_string(c.finished)).c_str());
        QCOMPARE(c.errors, uint64_t(0));
        const auto s = eng->snapshot();
        QCOMPARE(c.streamed_tokens, s.generation_tokens);
        // Per request: the engine's generated count in each final event equals what streamed,
        // and stop() leaves nothing in flight.
        QCOMPARE(c.generated_tokens, s.generation_tokens);
        QCOMPARE(c.mismatched, uint64_t(0));
        QCOMPARE(c.in_flight, 0);
        QCOMPARE(c.submitted, c.finished + c.rejected + c.errors + c.cancelled);
        QCOMPARE(c.stalled, 0);
        QVERIFY(s.prefix_cache_hits > 0);  // follow-up turns reuse their conversation's blocks
        for (const auto& r : eng->request_history())
            QVERIFY(r.owner & rl::load_generator::kVirtualOwnerBit);
    }
};

RL_TEST_MAIN(TestLoadGenerator, presetsExistAndUnknownIsRefused, virtualUsersDriveTheEngine)
#include "test_load_generator.moc"
