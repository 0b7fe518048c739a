// Engine facade and thread, on the real default model and the CPU backend: streaming, stats,
// batching invariance, preemption by recompute, cancel, per-request rejection reasons, and the
// opt-in prefill progress events.
#include "rl_test.h"

#include "common/engine_error.h"
#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace {

struct Collected {
    std::vector<int32_t> tokens;
    std::string text;
    rl::token_event final_event;
    bool done = false;
};

// Thread-safe collector of events for many requests.
class Sink {
public:
    rl::event_sink make(int key) {
        return [this, key](const rl::token_event& e) {
            std::lock_guard lk(mu_);
            Collected& c = by_key_[key];
            if (e.finish == rl::finish_reason::none) c.tokens.push_back(e.token);
            c.text += e.text;
            if (e.finish != rl::finish_reason::none) {
                c.final_event = e;
                c.done = true;
            }
        };
    }
    Collected get(int key) {
        std::lock_guard lk(mu_);
        return by_key_[key];
    }

private:
    std::mutex mu_;
    std::map<int, Collected> by_key_;
};

bool haveModel() { return std::ifstream(RL_MODEL_PATH).good(); }

rl::engine_options options() {
    rl::engine_options o;
    o.model_path = RL_MODEL_PATH;
    // The fp32 reference: its rows do not depend on the step's other rows. Native blocks do (a
    // step of up to 8 rows takes integer products, a larger one fp32 tiles), so "batched equals
    // alone" and "a preempted sequence resumes identically" hold only to within rounding there.
    o.weights = rl::weight_storage::f32;
    o.serving.max_model_len = 256;
    o.serving.block_size = 16;
    o.serving.max_num_seqs = 16;
    o.serving.max_num_batched_tokens = 512;
    return o;
}

} // namespace

class TestEngine : public QObject {
    Q_OBJECT
private slots:
    void streamsAndReportsStats() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        auto eng = rl::engine::create(options());
        Sink sink;
        rl::request r;
        r.prompt = eng->tokenize_chat({{"user", "What is the capital of France?"}});
        r.max_tokens = 12;
        r.on_event = sink.make(0);
        eng->submit(r);
        eng->wait_idle();
        Collected c = sink.get(0);
        QVERIFY(c.done);
        QVERIFY(c.final_event.finish == rl::finish_reason::length ||
                c.final_event.finish == rl::finish_reason::stop);
        QCOMPARE(int(c.tokens.size()), c.final_event.stats.generated_tokens);
        QCOMPARE(c.final_event.stats.prompt_tokens, int(r.prompt.size()));
        QVERIFY(c.final_event.stats.ttft_ms > 0);
        QVERIFY(c.final_event.stats.e2e_ms >= c.final_event.stats.ttft_ms);
        QVERIFY2(c.text.find("Paris") != std::string::npos, c.text.c_str());
        // The stream is exactly the raw pieces of the generated tokens (end-of-generation renders nothing).
        std::string pieces;
        for (int32_t t : c.tokens)
            if (!eng->get_tokenizer().is_end_of_generation(t)) pieces += eng->get_tokenizer().token_to_piece(t);
        QCOMPARE(c.text, pieces);
    }

    void snapshotGivesWaitingPlaces() {
        // One seat: a long request runs, two more wait. The snapshot names the places of the
        // waiting ones that asked for progress (the chat's), not of the one that did not.
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o = options();
        o.serving.max_num_seqs = 1;
        auto eng = rl::engine::create(o);
        rl::request run;
        run.prompt = eng->tokenize_chat({{"user", "Count to one hundred."}});
        run.max_tokens = 4000;
        run.ignore_eos = true;
        const uint64_t runId = eng->submit(run);
        rl::request plain = run;
        plain.max_tokens = 1;
        eng->submit(plain);                       // 1st in line, did not ask
        rl::request chat = plain;
        chat.report_progress = true;
        chat.on_event = [](const rl::token_event&) {};
        const uint64_t chatId = eng->submit(chat);   // 2nd in line
        rl::metrics_snapshot s;
        // A plain loop, not QTest::qWaitFor: the headless build's test shim has no event loop.
        bool queued = false;
        for (int i = 0; i < 2000 && !queued; ++i) {
            s = eng->snapshot();
            queued = s.num_requests_waiting == 2 && s.num_requests_running == 1;
            if (!queued) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        QVERIFY(queued);
        QCOMPARE(s.waiting_places.size(), size_t(1));
        QCOMPARE(s.waiting_places[0].first, chatId);
        QCOMPARE(s.waiting_places[0].second, 2);
        eng->cancel(runId);
        eng->wait_idle();
        QVERIFY(eng->snapshot().waiting_places.empty());
    }

    void reportsPrefillProgress() {
        // Opt-in: as each prefill chunk starts, a request that asked gets an event saying how much
        // of its prompt has KV; they rise from 0, stay below the prompt and come before the first
        // token. A request that did not ask gets none (virtual users, the server, the CLI).
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o = options();
        o.serving.max_num_seqs = 4;
        o.serving.max_num_batched_tokens = 32;
        auto eng = rl::engine::create(o);
        std::mutex mu;
        std::vector<rl::token_event> asked, plain;
        rl::request r;
        r.prompt = eng->tokenize_chat({{"user", "Summarize this: the ocean covers most of the planet, holds most "
                                                "of its water and life, drives the weather, stores heat and "
                                                "carbon, and links every coast by trade and by currents."}});
        QVERIFY(r.prompt.size() > 64);
        r.max_tokens = 2;
        r.report_progress = true;
        r.on_event = [&](const rl::token_event& e) { std::lock_guard lk(mu); asked.push_back(e); };
        eng->submit(r);
        eng->wait_idle();
        rl::request q = r;
        q.report_progress = false;
        q.prompt.push_back(q.prompt.front());   // not all from the cache: it still prefills
        q.on_event = [&](const rl::token_event& e) { std::lock_guard lk(mu); plain.push_back(e); };
        eng->submit(q);
        eng->wait_idle();

        std::lock_guard lk(mu);
        std::vector<int> progress;
        bool tokenSeen = false;
        for (const rl::token_event& e : asked) {
            if (e.prompt_computed < 0) {
                tokenSeen = tokenSeen || e.token >= 0;
                continue;
            }
            QVERIFY(!tokenSeen);
            QCOMPARE(e.token, -1);
            QVERIFY(e.text.empty());
            QVERIFY(e.finish == rl::finish_reason::none);
            QCOMPARE(e.prompt_total, int(r.prompt.size()));
            QVERIFY(e.prompt_computed < e.prompt_total);
            if (!progress.empty()) QVERIFY(e.prompt_computed > progress.back());
            progress.push_back(e.prompt_computed);
        }
        QVERIFY(tokenSeen);
        QVERIFY2(progress.size() >= r.prompt.size() / 32, std::to_string(progress.size()).c_str());
        QCOMPARE(progress.front(), 0);
        for (const rl::token_event& e : plain) QCOMPARE(e.prompt_computed, -1);
        QVERIFY(plain.back().finish != rl::finish_reason::none);
    }

    void batchedEqualsAlone() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        auto eng = rl::engine::create(options());
        const std::vector<std::string> prompts = {"Tell me about the ocean.", "Name three colors.",
                                                  "What is 7 times 8?", "Write a short poem about rain."};
        Sink alone, batched;
        for (int i = 0; i < int(prompts.size()); ++i) {
            rl::request r;
            r.prompt = eng->tokenize_chat({{"user", prompts[size_t(i)]}});
            r.max_tokens = 10;
            r.on_event = alone.make(i);
            eng->submit(r);
            eng->wait_idle();
        }
        for (int i = 0; i < 16; ++i) {
            rl::request r;
            r.prompt = eng->tokenize_chat({{"user", prompts[size_t(i) % prompts.size()]}});
            r.max_tokens = 10;
            r.on_event = batched.make(i);
            eng->submit(r);
        }
        eng->wait_idle();
        for (int i = 0; i < 16; ++i) QCOMPARE(batched.get(i).tokens, alone.get(i % int(prompts.size())).tokens);
    }

    void preemptedSequencesResumeIdentically() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o = options();
        o.serving.max_model_len = 64;
        o.serving.block_size = 8;
        o.serving.kv_blocks = 8;  // exactly one 64-token sequence: concurrent requests must preempt
        auto eng = rl::engine::create(o);
        Sink alone, together;
        const auto prompt = eng->tokenize_text("The history of computing began");
        for (int i = 0; i < 3; ++i) {
            rl::request r;
            r.prompt = prompt;
            r.max_tokens = 30;
            r.on_event = (i == 0 ? alone : together).make(i);
            eng->submit(r);
            if (i == 0) eng->wait_idle();
        }
        rl::request r;
        r.prompt = prompt;
        r.max_tokens = 30;
        r.on_event = together.make(3);
        eng->submit(r);
        eng->wait_idle();
        for (int i = 1; i <= 3; ++i) {
            QVERIFY(together.get(i).done);
            QCOMPARE(together.get(i).tokens, alone.get(0).tokens);
        }
        // Idle now: the gauges and the KV map show no running request and no used block, even
        // though the last step's record had a batch of 1 and used blocks.
        const rl::metrics_snapshot snap = eng->snapshot();
        QCOMPARE(snap.num_requests_running, 0);
        QCOMPARE(snap.num_requests_waiting, 0);
        QCOMPARE(snap.kv_used, 0);
        QCOMPARE(snap.kv_used + snap.kv_cached + snap.kv_free, 8);
        QVERIFY(eng->step_history().back().num_running > 0);
        const auto map = eng->kv_map();
        QCOMPARE(int(map.blocks.size()), 8);
        for (const auto& b : map.blocks) QVERIFY(b.state != rl::block_manager::block_state::used);
    }

    // The same conversation turn gives the same greedy tokens whether its prefix comes from the
    // prefix cache, is computed fresh (caching off), or is recomputed after its blocks were evicted.
    void cachedAndRecomputedPrefixGiveSameOutput() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o = options();
        o.serving.kv_blocks = 16;  // 256 tokens: one unrelated request evicts everything
        auto eng = rl::engine::create(o);
        const std::vector<rl::chat_message> turn1 = {{"user", "Name a large ocean."}};
        Sink sink;
        auto run = [&](int key, uint64_t conversation, const std::vector<rl::chat_message>& msgs) {
            rl::request r;
            r.conversation_id = conversation;
            r.prompt = eng->tokenize_chat(msgs);
            r.max_tokens = 12;
            r.on_event = sink.make(key);
            eng->submit(r);
            eng->wait_idle();
            return sink.get(key);
        };
        const Collected first = run(0, 7, turn1);
        auto turn2 = turn1;
        turn2.push_back({"assistant", first.text});
        turn2.push_back({"user", "And a small one?"});
        const Collected cached = run(1, 7, turn2);
        QVERIFY2(cached.final_event.stats.cached_prompt_tokens >= 16, "turn 2 should reuse turn 1's blocks");
        // Evict: an unrelated long prompt takes nearly the whole pool. (It shares the template's
        // system-prompt blocks with turn 2, so those stay cached.)
        std::string filler;
        for (int i = 0; i < 34; ++i) filler += "river stone " + std::to_string(i) + ", ";
        std::vector<rl::chat_message> other = {{"user", filler}};
        run(2, 99, other);
        const uint64_t recomputedBefore = eng->snapshot().recomputed_tokens;
        const Collected recomputed = run(3, 7, turn2);
        // Turn 2 had computed its whole prompt and reply; what eviction took must be computed again.
        QVERIFY(eng->snapshot().recomputed_tokens >= recomputedBefore + 16);
        QVERIFY(eng->snapshot().kv_evicted_blocks > 0);
        QCOMPARE(recomputed.tokens, cached.tokens);
        // And with prefix caching off, computed from scratch.
        rl::engine_options off = options();
        off.serving.prefix_caching = false;
        auto eng2 = rl::engine::create(off);
        Sink sink2;
        rl::request r;
        r.prompt = eng2->tokenize_chat(turn2);
        r.max_tokens = 12;
        r.on_event = sink2.make(0);
        eng2->submit(r);
        eng2->wait_idle();
        QCOMPARE(sink2.get(0).tokens, cached.tokens);
    }

    void cancelEndsTheRequest() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        auto eng = rl::engine::create(options());
        Sink sink;
        rl::request r;
        r.prompt = eng->tokenize_text("Count from one to one hundred:");
        r.max_tokens = 200;
        r.on_event = sink.make(0);
        const uint64_t id = eng->submit(r);
        eng->cancel(id);
        eng->wait_idle();
        QVERIFY(sink.get(0).done);
        QVERIFY(sink.get(0).final_event.finish == rl::finish_reason::cancelled);
        QVERIFY(int(sink.get(0).tokens.size()) < 200);
    }

    void rejectsBadRequestsWithReasons() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        auto eng = rl::engine::create(options());
        Sink sink;
        rl::request tooLong;
        tooLong.prompt.assign(300, 42);
        tooLong.on_event = sink.make(0);
        eng->submit(tooLong);
        rl::request badSampling;
        badSampling.prompt = {1, 2, 3};
        badSampling.sampling.top_p = 0;
        badSampling.on_event = sink.make(1);
        eng->submit(badSampling);
        rl::request empty;
        empty.on_event = sink.make(2);
        eng->submit(empty);
        eng->wait_idle();
        for (int i = 0; i < 3; ++i) {
            QVERIFY(sink.get(i).final_event.finish == rl::finish_reason::rejected);
            QVERIFY(!sink.get(i).final_event.error.empty());
        }
        QVERIFY(sink.get(0).final_event.error.find("context") != std::string::npos);
    }

    void autoPoolIsResolvedOnceAndPoolChangesAreRefused() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        rl::engine_options o = options();
        o.calibrate = false;
        QCOMPARE(o.serving.kv_blocks, 0);   // auto
        auto eng = rl::engine::create(o);
        // The engine resolves auto into a pool (info) and keeps the choice (current_config).
        QVERIFY(eng->info().kv_blocks >= 256 / 16);
        QCOMPARE(eng->current_config().kv_blocks, 0);
        rl::serving_config live = eng->current_config();
        live.max_num_seqs = 4;
        QCOMPARE(eng->apply(live), std::string());
        QCOMPARE(eng->current_config().max_num_seqs, 4);
        QCOMPARE(eng->current_config().kv_blocks, 0);
        // Any pool-shape knob of the table is refused live, by name, and nothing changes.
        rl::serving_config sized = live;
        sized.kv_blocks = eng->info().kv_blocks;
        const std::string why = eng->apply(sized);
        QVERIFY2(why.find("kv_blocks needs a pool restart") != std::string::npos, why.c_str());
        rl::serving_config mem = live;
        mem.gpu_memory_utilization = 0.5;
        mem.block_size = 32;
        const std::string why2 = eng->apply(mem);
        QVERIFY2(why2.find("block_size and gpu_memory_utilization need a pool restart") != std::string::npos,
                 why2.c_str());
        QCOMPARE(eng->current_config().gpu_memory_utilization, rl::serving_config{}.gpu_memory_utilization);
        QCOMPARE(eng->current_config().block_size, 16);
    }

    void badSettingsAndFilesThrow() {
        rl::engine_options o = options();
        o.model_path = "/nonexistent/model.gguf";
        bool threw = false;
        try { rl::engine::create(o); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("/nonexistent/model.gguf") != std::string::npos;
        }
        QVERIFY(threw);
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        o = options();
        o.serving.block_size = 12;
        threw = false;
        try { rl::engine::create(o); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("power of two") != std::string::npos;
        }
        QVERIFY(threw);
        o = options();
        o.serving.kv_blocks = 3;
        threw = false;
        try { rl::engine::create(o); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("cannot hold") != std::string::npos;
        }
        QVERIFY(threw);
    }
};

RL_TEST_MAIN(TestEngine, streamsAndReportsStats, batchedEqualsAlone, preemptedSequencesResumeIdentically,
             cachedAndRecomputedPrefixGiveSameOutput, cancelEndsTheRequest, rejectsBadRequestsWithReasons,
             autoPoolIsResolvedOnceAndPoolChangesAreRefused, badSettingsAndFilesThrow)
#include "test_engine.moc"
