// test_sliding_window: Mistral's sliding window served end to end. tiny-mistral_swa.gguf (every
// layer windowed, 8 positions; tests/golden/make_tiny_models.py) goes through the real engine:
// scheduler, block manager with 8-token blocks and prefix caching, prefill in 16-token chunks. The
// greedy tokens must be those of tests/golden/family_mistral_swa.json (HF transformers,
// generate_swa_golden.py), while the blocks left wholly behind the window are released during
// the prompt and during generation (step_record::window_freed_blocks), exactly as many as the
// window allows, and at most the window's blocks stay in use.
#include "rl_test.h"
#include "token_text.h"

#include "common/engine_error.h"
#include "runtime/engine.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <mutex>

using json = nlohmann::json;

namespace {

constexpr int kBlock = 8;

json golden() {
    const std::string path = std::string(RL_TEST_DATA) + "/golden/family_mistral_swa.json";
    std::ifstream f(path);
    if (!f) throw rl::engine_error("cannot open " + path);
    return json::parse(f);
}

rl::engine_options options() {
    rl::engine_options o;
    // Made by scripts/setup.sh (tests/golden/make_tiny_models.py); fail, not skip, without it.
    o.model_path = std::string(RL_MODELS_DIR) + "/tiny/tiny-mistral_swa.gguf";
    o.weights = rl::weight_storage::f32;
    o.calibrate = false;
    o.serving.max_model_len = 128;
    o.serving.block_size = kBlock;
    o.serving.kv_blocks = 64;
    o.serving.max_num_seqs = 4;
    o.serving.max_num_batched_tokens = 16;   // prompts of 41-62 tokens prefill in 3-4 chunks
    return o;
}

struct outcome {
    std::vector<int32_t> tokens;
    rl::token_event last;
};

// Submits the requests together and waits; the tokens and final event of each, in order.
std::vector<outcome> serve(rl::engine& eng, const std::vector<std::vector<int32_t>>& prompts, int n) {
    std::mutex mu;
    std::map<size_t, outcome> got;
    std::vector<rl::request> rs;
    for (size_t i = 0; i < prompts.size(); ++i) {
        rl::request r;
        r.prompt = prompts[i];
        r.max_tokens = n;
        r.ignore_eos = true;   // the golden's argmax runs past EOS
        r.on_event = [&mu, &got, i](const rl::token_event& e) {
            std::lock_guard lk(mu);
            if (e.finish == rl::finish_reason::none) got[i].tokens.push_back(e.token);
            else got[i].last = e;
        };
        rs.push_back(std::move(r));
    }
    eng.submit_all(std::move(rs));
    eng.wait_idle();
    std::vector<outcome> out;
    for (size_t i = 0; i < prompts.size(); ++i) out.push_back(got[i]);
    return out;
}

} // namespace

class TestSlidingWindow : public QObject {
    Q_OBJECT
private slots:
    void servesGoldenWhileFreeing();
    void prefixHitsAndBatchBehindTheWindow();
};

// Each prompt alone: the golden's tokens, and after every step exactly the blocks behind the
// window released, both in prefill chunks and in decode steps.
void TestSlidingWindow::servesGoldenWhileFreeing() {
    const json g = golden();
    const int n = g["n_greedy"].get<int>();
    auto eng = rl::engine::create(options());
    const int window = eng->config().kv_window();
    QCOMPARE(window, 8);
    uint64_t seen = 0;   // step indices start at 1
    for (const auto& c : g["cases"]) {
        const std::string name = c["name"].get<std::string>();
        const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
        const uint64_t freed0 = eng->snapshot().kv_window_freed_blocks;
        const outcome o = serve(*eng, {prompt}, n)[0];
        QVERIFY2(o.last.finish == rl::finish_reason::length, (name + ": " + o.last.error).c_str());
        const auto want = c["continuation_ids"].get<std::vector<int32_t>>();
        QVERIFY2(o.tokens == want, (name + ": got " + show_ids(o.tokens) + "\n want " + show_ids(want)).c_str());

        // At the end prompt + n - 1 positions have KV (the last token is sampled, never computed);
        // the next query, at that position, sees those after it - window: the whole blocks before
        // that went.
        const int computed = int(prompt.size()) + n - 1;
        const uint64_t expect = uint64_t((computed - window + 1) / kBlock);
        QCOMPARE(eng->snapshot().kv_window_freed_blocks - freed0, expect);
        bool in_prefill = false, in_decode = false;
        for (const rl::step_record& r : eng->step_history()) {
            if (r.index <= seen) continue;
            seen = r.index;
            if (r.window_freed_blocks == 0) continue;
            (r.prefill_tokens > 0 ? in_prefill : in_decode) = true;
            // Left in use: the blocks of the window - 1 positions the next query sees besides itself.
            QVERIFY2(r.kv_used <= (window - 1 + kBlock - 1) / kBlock + 1,
                     (name + ": " + std::to_string(r.kv_used) + " blocks in use").c_str());
        }
        QVERIFY2(in_prefill && in_decode, (name + ": blocks were not freed in both phases").c_str());
    }
    const std::string bad = eng->check_kv_invariants();
    QVERIFY2(bad.empty(), bad.c_str());
}

// Each prompt alone, then all of them in one batch: the batch starts from the prefix cache
// (the prompts' full blocks, cached as the window released them) and decodes together; the
// tokens stay the golden's. (Alone first: a step that leaves every full block behind the window
// breaks the hash chain for the blocks after it, as can happen when the window is no longer than
// a block and a batch splits the 16-token budget unevenly.)
void TestSlidingWindow::prefixHitsAndBatchBehindTheWindow() {
    const json g = golden();
    const int n = g["n_greedy"].get<int>();
    auto eng = rl::engine::create(options());
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& c : g["cases"]) prompts.push_back(c["prompt_ids"].get<std::vector<int32_t>>());
    for (const auto& p : prompts) serve(*eng, {p}, n);
    const std::vector<outcome> got = serve(*eng, prompts, n);
    for (size_t i = 0; i < prompts.size(); ++i) {
        const auto& c = g["cases"][i];
        const std::string name = c["name"].get<std::string>() + " batched";
        QVERIFY2(got[i].last.finish == rl::finish_reason::length, (name + ": " + got[i].last.error).c_str());
        const auto want = c["continuation_ids"].get<std::vector<int32_t>>();
        QVERIFY2(got[i].tokens == want, (name + ": got " + show_ids(got[i].tokens) + "\n want " + show_ids(want)).c_str());
        // Every full block but the one holding the last prompt token (its logits are needed).
        const int cached = got[i].last.stats.cached_prompt_tokens;
        QVERIFY2(cached == (int(prompts[i].size()) - 1) / kBlock * kBlock,
                 (name + ": cached " + std::to_string(cached)).c_str());
    }
    QVERIFY(eng->snapshot().kv_window_freed_blocks > 0);
    const std::string bad = eng->check_kv_invariants();
    QVERIFY2(bad.empty(), bad.c_str());
}

RL_TEST_MAIN(TestSlidingWindow, servesGoldenWhileFreeing, prefixHitsAndBatchBehindTheWindow)
#include "test_sliding_window.moc"
