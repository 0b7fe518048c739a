// scheduler with a fake runner (no model): budgets and seat limits always hold, every request
// finishes or is rejected with a reason, preempted sequences resume, policies order admission.
#include "rl_test.h"

#include "serving/scheduler.h"

#include <random>
#include <set>

namespace {

using rl::clock_type;

// Prompts of one conversation share their tokens (so they share cached prefixes); anonymous
// requests get distinct tokens from their id.
std::unique_ptr<rl::sequence> makeSeq(uint64_t id, int promptLen, int maxTokens, int priority = 0,
                                      uint64_t conversation = 0, clock_type::time_point t = clock_type::now()) {
    rl::request r;
    const int salt = int(conversation ? conversation : id * 1009);
    for (int i = 0; i < promptLen; ++i) r.prompt.push_back(int32_t((i * 31 + salt * 7) % 500));
    r.max_tokens = maxTokens;
    r.priority = priority;
    r.conversation_id = conversation;
    return std::make_unique<rl::sequence>(id, std::move(r), t);
}

// The fake runner: every sequence that wants logits gets token 7; finishes at max_tokens.
struct FakeRunner {
    rl::scheduler& sched;
    std::set<uint64_t> finished;
    int maxBatchTokens = 0, maxSeqs = 0;
    void step() {
        std::vector<rl::rejection> rejected;
        auto st = sched.schedule(clock_type::now(), rejected);
        for (auto& r : rejected) finished.insert(r.seq->id);
        maxBatchTokens = std::max(maxBatchTokens, st.input.n_tokens());
        maxSeqs = std::max(maxSeqs, int(st.seqs.size()));
        sched.on_computed(st);
        std::vector<uint64_t> done;
        for (size_t i = 0; i < st.seqs.size(); ++i) {
            if (!st.wants_logits[i]) continue;
            st.seqs[i]->tokens.push_back(7);
            if (st.seqs[i]->generated() >= st.seqs[i]->req.max_tokens) done.push_back(st.seqs[i]->id);
        }
        for (uint64_t id : done) {
            sched.remove(id);
            finished.insert(id);
        }
    }
};

rl::serving_config config(int seqs, int budget) {
    rl::serving_config c;
    c.max_num_seqs = seqs;
    c.max_num_batched_tokens = budget;
    c.block_size = 8;
    return c;
}

} // namespace

class TestScheduler : public QObject {
    Q_OBJECT
private slots:
    void randomLoadRespectsLimitsAndFinishesAll() {
        std::mt19937 rng(3);
        for (bool chunked : {true, false}) {
            rl::block_manager bm(40, 8);  // 320 tokens: forces preemption
            auto cfg = config(6, 64);
            cfg.chunked_prefill = chunked;
            rl::scheduler sched(cfg, bm, 256);
            FakeRunner run{sched};
            int submitted = 0, rejected = 0;
            for (int t = 0; t < 3000 && (submitted < 200 || !sched.idle()); ++t) {
                if (submitted < 200 && rng() % 3 == 0) {
                    auto s = makeSeq(uint64_t(++submitted), 1 + int(rng() % 120), 1 + int(rng() % 40));
                    const std::string why = sched.add(s, clock_type::now());
                    if (!why.empty()) {
                        QVERIFY(s != nullptr);  // a rejected request is handed back with its reason
                        ++rejected;
                        run.finished.insert(s->id);
                    }
                }
                run.step();
                QVERIFY(run.maxBatchTokens <= 64);
                QVERIFY(sched.num_running() <= 6);
                QVERIFY2(bm.check_invariants().empty(), bm.check_invariants().c_str());
            }
            QCOMPARE(int(run.finished.size()), submitted);
            QVERIFY(sched.idle());
            QCOMPARE(bm.counts().used, 0);
            QVERIFY(sched.counters().preemptions > 0);
            if (!chunked) QVERIFY(rejected > 0);  // prompts over the 64-token budget cannot run unchunked
        }
    }

    void decodesComeFirstAndPrefillIsChunked() {
        rl::block_manager bm(64, 8);
        rl::scheduler sched(config(4, 16), bm, 256);
        auto a = makeSeq(1, 5, 10);
        QVERIFY(sched.add(a, clock_type::now()).empty());
        std::vector<rl::rejection> rej;
        auto st = sched.schedule(clock_type::now(), rej);
        sched.on_computed(st);
        st.seqs[0]->tokens.push_back(7);  // a is now decoding
        auto b = makeSeq(2, 40, 10);
        QVERIFY(sched.add(b, clock_type::now()).empty());
        st = sched.schedule(clock_type::now(), rej);
        QCOMPARE(int(st.seqs.size()), 2);
        QCOMPARE(st.seqs[0]->id, uint64_t(1));
        QCOMPARE(st.decode_tokens, 1);
        QCOMPARE(st.prefill_tokens, 15);  // the rest of the 16-token budget
        QCOMPARE(int(st.input.logit_rows.size()), 1);  // b's chunk is mid-prompt: no logits
    }

    void priorityPolicyPreemptsLowerPriority() {
        rl::block_manager bm(64, 8);
        auto cfg = config(2, 256);
        cfg.policy = rl::schedule_policy::priority;
        rl::scheduler sched(cfg, bm, 256);
        FakeRunner run{sched};
        for (uint64_t id = 1; id <= 2; ++id) {
            auto s = makeSeq(id, 10, 50, 0);
            sched.add(s, clock_type::now());
        }
        run.step();
        QCOMPARE(sched.num_running(), 2);
        auto person = makeSeq(3, 10, 5, 10);
        sched.add(person, clock_type::now());
        std::vector<rl::rejection> rej;
        auto st = sched.schedule(clock_type::now(), rej);
        bool personRuns = false;
        for (auto* s : st.seqs) personRuns |= s->id == 3;
        QVERIFY(personRuns);
        QCOMPARE(sched.counters().preemptions, uint64_t(1));
        QCOMPARE(sched.waiting().front()->id, uint64_t(2));  // the newest virtual user yielded
    }

    void admissionControlRejectsWithReasons() {
        rl::block_manager bm(64, 8);
        auto cfg = config(1, 64);
        cfg.max_waiting = 2;
        cfg.max_queue_ms = 50;
        rl::scheduler sched(cfg, bm, 128);
        auto old = clock_type::now() - std::chrono::milliseconds(100);
        auto s1 = makeSeq(1, 10, 5, 0, 0, old);
        auto s2 = makeSeq(2, 10, 5);
        auto s3 = makeSeq(3, 10, 5);
        QVERIFY(sched.add(s1, clock_type::now()).empty());
        QVERIFY(sched.add(s2, clock_type::now()).empty());
        const std::string full = sched.add(s3, clock_type::now());
        QVERIFY2(full.find("at capacity") != std::string::npos, full.c_str());
        auto tooLong = makeSeq(4, 200, 5);
        QVERIFY(sched.add(tooLong, clock_type::now()).find("context") != std::string::npos);
        std::vector<rl::rejection> rej;
        auto st = sched.schedule(clock_type::now(), rej);
        QCOMPARE(int(rej.size()), 1);  // s1 waited 100 ms > 50 ms
        QCOMPARE(rej[0].seq->id, uint64_t(1));
        QVERIFY(rej[0].reason.find("max_queue_ms") != std::string::npos);
        QCOMPARE(st.seqs[0]->id, uint64_t(2));
        QCOMPARE(sched.counters().rejected, uint64_t(2));
    }

    void conversationReuseAndRecomputeAreCounted() {
        rl::block_manager bm(12, 8);  // 96 tokens
        rl::scheduler sched(config(4, 256), bm, 96);
        FakeRunner run{sched};
        auto turn1 = makeSeq(1, 40, 8, 0, 77);
        sched.add(turn1, clock_type::now());
        while (!sched.idle()) run.step();
        // Turn 2 extends turn 1's tokens: its first 40+7 computed tokens are cached (5 full blocks).
        auto turn2 = makeSeq(2, 40, 4, 0, 77);
        turn2->tokens.insert(turn2->tokens.end(), 8, 7);
        turn2->tokens.push_back(9);
        turn2->prompt_len = int(turn2->tokens.size());
        turn2->req.prompt = turn2->tokens;
        sched.add(turn2, clock_type::now());
        std::vector<rl::rejection> rej;
        auto st = sched.schedule(clock_type::now(), rej);
        QCOMPARE(st.seqs[0]->cached_prompt_tokens, 40);
        QCOMPARE(sched.counters().recomputed_tokens, uint64_t(47 - 40));  // the unshared partial block
        sched.on_computed(st);
        sched.remove(2);
        // Evict everything with an unrelated request, then turn 3 must recompute its history.
        auto other = makeSeq(3, 90, 2, 0, 5);
        sched.add(other, clock_type::now());
        while (!sched.idle()) run.step();
        QVERIFY(bm.evicted_blocks() > 0);
        auto turn3 = makeSeq(4, 40, 2, 0, 77);
        sched.add(turn3, clock_type::now());
        const auto before = sched.counters().recomputed_tokens;
        st = sched.schedule(clock_type::now(), rej);
        QVERIFY(sched.counters().recomputed_tokens - before >= uint64_t(32));
    }

    // Every layer windowed (Mistral): after each step the blocks a sequence has left wholly behind
    // the window go back to the pool, the table keeps its length with -1 there, and what a step
    // hands the backend still covers every position its queries can see.
    void slidingWindowFreesBlocksBehindIt() {
        for (const int window : {8, 20, 33}) {
            rl::block_manager bm(64, 8);   // 512 tokens: three 400-token sequences only fit windowed
            rl::serving_config cfg = config(4, 64);
            rl::scheduler sched(cfg, bm, 1024);
            sched.set_kv_window(window);
            FakeRunner run{sched};
            for (uint64_t id = 1; id <= 3; ++id) {
                auto s = makeSeq(id, 100, 300);
                QCOMPARE(sched.add(s, clock_type::now()), std::string());
            }
            int mostUsed = 0;
            for (int guard = 0; !sched.idle() && guard < 5000; ++guard) {
                std::vector<rl::rejection> rejected;
                auto st = sched.schedule(clock_type::now(), rejected);
                QVERIFY(rejected.empty());
                QCOMPARE(st.input.kv_window, window);
                for (const rl::seq_slice& sl : st.input.seqs) {
                    const int firstNeeded = std::max(0, sl.start_pos - window + 1);
                    for (int b = 0; b * 8 < sl.context_len(); ++b) {
                        const bool needed = (b + 1) * 8 > firstNeeded;
                        QVERIFY2(!needed || sl.block_table[size_t(b)] >= 0,
                                 ("a block the window still sees was freed: block " + std::to_string(b)).c_str());
                    }
                }
                sched.on_computed(st);
                const std::string bad = bm.check_invariants();
                QVERIFY2(bad.empty(), bad.c_str());
                mostUsed = std::max(mostUsed, bm.counts().used);
                for (const auto& s : sched.running()) {
                    int held = 0;
                    for (int32_t b : s->block_table) held += b >= 0;
                    // The window's blocks, the partial one being written, one the window straddles.
                    QVERIFY2(held <= (window + 7) / 8 + 2 + (64 + 7) / 8,
                             ("sequence holds " + std::to_string(held) + " blocks").c_str());
                }
                std::vector<uint64_t> done;
                for (size_t i = 0; i < st.seqs.size(); ++i) {
                    if (!st.wants_logits[i]) continue;
                    st.seqs[i]->tokens.push_back(7);
                    if (st.seqs[i]->generated() >= st.seqs[i]->req.max_tokens) done.push_back(st.seqs[i]->id);
                }
                for (uint64_t id : done) sched.remove(id);
            }
            QVERIFY(sched.idle());
            QCOMPARE(sched.counters().preemptions, uint64_t(0));   // 3 x 400 tokens never needed 1,200
            QVERIFY(sched.counters().window_freed_blocks >= uint64_t(3 * (400 - window - 16) / 8));
            QVERIFY(mostUsed < 64);
            QCOMPARE(bm.counts().used, 0);
        }
    }
};

RL_TEST_MAIN(TestScheduler, randomLoadRespectsLimitsAndFinishesAll, decodesComeFirstAndPrefillIsChunked,
             priorityPolicyPreemptsLowerPriority, admissionControlRejectsWithReasons,
             conversationReuseAndRecomputeAreCounted, slidingWindowFreesBlocksBehindIt)
#include "test_scheduler.moc"
