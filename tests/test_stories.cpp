// The story table (engine/runtime/stories.h) and the knobs it needs: every story is a valid
// config whose pool holds one full sequence, the GPU sizes are at least the CPU's, the tally
// counts step records as worked out by hand, and the new pool knobs (max_model_len, kv_budget_gib,
// max_num_batched_tokens auto) resolve as their formulas say, on a synthetic model.
#include "rl_test.h"

#include "common/engine_error.h"
#include "runtime/engine.h"
#include "runtime/stories.h"

#include <set>

class TestStories : public QObject {
    Q_OBJECT
private slots:
    void everyStoryIsAValidConfigWithALoad() {
        std::set<std::string> titles;
        QCOMPARE(int(rl::story_names().size()), 6);
        for (const std::string& n : rl::story_names())
            for (bool gpu : {false, true}) {
                rl::story_backend be;
                be.gpu = gpu;
                const rl::story s = rl::story_preset(n, be);
                QCOMPARE(s.name, n);
                QVERIFY2(!rl::validate(s.serving), (n + ": " + rl::validate(s.serving).message).c_str());
                QVERIFY(s.counter != nullptr);
                QVERIFY(!s.watch.empty());
                // Two sentences: what happens, what to watch.
                int stops = 0;
                for (size_t i = 0; i + 1 < s.caption.size(); ++i) stops += s.caption[i] == '.' && s.caption[i + 1] == ' ';
                QVERIFY2(stops >= 1 && s.caption.back() == '.', s.caption.c_str());
                if (!gpu) titles.insert(s.title);
                // A fixed pool must hold one full sequence (validate_pool), at the story's context.
                if (s.serving.kv_blocks > 0 && s.serving.max_model_len > 0)
                    QVERIFY(!rl::validate_pool(s.serving, s.serving.kv_blocks, s.serving.max_model_len));
                // With chunked prefill off, the budget must take the longest prompt the load draws
                // (1.5 x its mean) and the chat template around it.
                if (!s.serving.chunked_prefill) {
                    const int longest = int(1.5 * std::max(s.load.prompt_tokens, s.load.mix_prompt_tokens)) + 64;
                    QVERIFY(s.serving.max_num_batched_tokens >= longest);
                    QVERIFY(s.serving.max_model_len >= longest);
                }
                QVERIFY(s.load.users >= 1 && s.load.mix_users < s.load.users);
            }
        QCOMPARE(int(titles.size()), 6);
        rl::story_backend cpu, gpu;
        gpu.gpu = true;
        for (const std::string& n : rl::story_names())
            QVERIFY(rl::story_preset(n, gpu).load.users >= rl::story_preset(n, cpu).load.users);
        bool threw = false;
        try { rl::story_preset("nope", cpu); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("kv-pressure") != std::string::npos;
        }
        QVERIFY(threw);
    }

    void tallyCountsStepsByHand() {
        rl::story_tally t;
        rl::step_record a;   // a long prefill with 3 decodes riding along
        a.prefill_tokens = 300; a.decode_tokens = 3; a.num_running = 4; a.preemptions = 1; a.rejected = 2;
        rl::step_record b;   // decode only
        b.decode_tokens = 5; b.num_running = 5; b.evicted_blocks = 7; b.recomputed_tokens = 40;
        rl::step_record c;   // a chunk at the auto budget: not "long"
        c.prefill_tokens = 256; c.decode_tokens = 2; c.num_running = 3;
        for (const auto& r : {a, b, c}) t.add(r, 256);
        QCOMPARE(t.rejected, uint64_t(0));   // not from steps: refusals on arrival are between them
        t.rejected = 2;
        QCOMPARE(t.steps, uint64_t(3));
        QCOMPARE(t.preemptions, uint64_t(1));
        QCOMPARE(t.rejected, uint64_t(2));
        QCOMPARE(t.evicted_blocks, uint64_t(7));
        QCOMPARE(t.recomputed_tokens, uint64_t(40));
        QCOMPARE(t.prefill_steps, uint64_t(2));
        QCOMPARE(t.decode_steps, uint64_t(1));
        QCOMPARE(t.decodes_behind_long_prefill, uint64_t(3));
        QCOMPARE(t.max_batch, 5);
        const rl::story kv = rl::story_preset("kv-pressure", {});
        QCOMPARE(kv.counter(t), uint64_t(8));
        QCOMPARE(rl::story_preset("at-capacity", {}).counter(t), uint64_t(2));
        QCOMPARE(rl::story_preset("head-of-line", {}).counter(t), uint64_t(3));
        QCOMPARE(rl::story_preset("summarize-vs-write", {}).counter(t), uint64_t(1));
        QCOMPARE(rl::story_preset("batching-pays", {}).counter(t), uint64_t(5));
        QCOMPARE(rl::story_preset("batching-pays", {}).counter(rl::story_tally{}), uint64_t(0));
    }

    void autoKnobsResolveByHand() {
        QCOMPARE(rl::auto_batched_tokens(true, 1e15, 1e9), 2048);
        QCOMPARE(rl::auto_batched_tokens(false, 0, 1e9), 512);
        // 1e11 FLOP/s x 0.25 s / (2 x 1.35e8) = 92.6 tokens -> 64; 1e12 -> 925 -> 512.
        QCOMPARE(rl::auto_batched_tokens(false, 1e11, 1.35e8), 64);
        QCOMPARE(rl::auto_batched_tokens(false, 1e12, 1.35e8), 512);
        QCOMPARE(rl::auto_batched_tokens(false, 1e16, 1.35e8), 2048);
        QCOMPARE(rl::auto_batched_tokens(false, 1e9, 8e9), 64);
        QCOMPARE(rl::resolve_max_model_len(0, 32768), 8192);
        QCOMPARE(rl::resolve_max_model_len(0, 2048), 2048);
        QCOMPARE(rl::resolve_max_model_len(512, 2048), 512);
        QCOMPARE(rl::resolve_max_model_len(4096, 2048), 2048);
        QCOMPARE(rl::kv_blocks_for_budget(1.0, 1 << 20), 1024);
        QCOMPARE(rl::kv_blocks_for_budget(0, 1 << 20), 0);
        rl::serving_config c;
        c.max_num_seqs = 100;
        QCOMPARE(rl::resolve_step_budget(c, 64).max_num_batched_tokens, 100);   // at least the batch
        c.max_num_batched_tokens = 300;
        QCOMPARE(rl::resolve_step_budget(c, 64).max_num_batched_tokens, 300);   // a number stays
    }

    void engineSizesThePoolFromTheNewKnobs() {
        rl::engine_options o;
        o.model_path = "synthetic:smollm2-135m";
        o.calibrate = false;
        o.serving.max_model_len = 256;
        o.serving.kv_budget_gib = 0.02;
        auto eng = rl::engine::create(o);
        const rl::engine_info& i = eng->info();
        QCOMPARE(i.context_length, 256);
        QCOMPARE(i.kv_blocks, rl::kv_blocks_for_budget(0.02, i.kv_bytes_per_block));
        QVERIFY(i.kv_blocks >= 256 / i.block_size);
        // No calibration: no peak, so the CPU's auto budget is the fallback.
        QCOMPARE(i.auto_batched_tokens, 512);
        QCOMPARE(eng->current_config().max_num_batched_tokens, 0);   // the choice keeps its "auto"
        // A pool below one full context is refused at load, naming the sizes.
        o.serving.kv_budget_gib = 0;
        o.serving.kv_blocks = 8;
        std::string why;
        try { rl::engine::create(o); } catch (const rl::engine_error& e) { why = e.what(); }
        QVERIFY2(why.find("256-token") != std::string::npos, why.c_str());
        o.serving.kv_blocks = 16;   // 16 x 16 = 256: one full sequence fits
        QCOMPARE(rl::engine::create(o)->info().kv_blocks, 16);
    }
};

RL_TEST_MAIN(TestStories, everyStoryIsAValidConfigWithALoad, tallyCountsStepsByHand, autoKnobsResolveByHand,
             engineSizesThePoolFromTheNewKnobs)
#include "test_stories.moc"
