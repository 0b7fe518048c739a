// test_golden: SmolLM2-135M on the CPU backend against llama.cpp (tests/golden/*.json, produced by
// generate_golden.py on an F32-dequantized copy of the model with an F32 KV cache). Greedy
// continuations must match exactly; logits within the tolerance below. Also runs a case through
// two prefill chunks, a block size of 8 with a shuffled block table, and two sequences per batch.
// Then the native block weights (integer products) against that fp32 path, token for token up to the
// first near tie. Prints decode ms/token and prefill tokens/s for both.
#include "rl_test.h"
#include "step_rows.h"
#include "token_text.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/llama_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>

using namespace rl;
using json = nlohmann::json;

namespace {

// Both sides run fp32 on the same dequantized weights with an fp32 KV cache; they differ only
// in summation order (ggml's blocked dot products and softmax vs ours). Observed: max |diff| over
// every golden top-5 logit = 1.7e-5 (logits ~20-30), which is also the reference script's own
// numpy-vs-llama.cpp difference. 1e-3 * max(1, |logit|) leaves >1000x headroom for other CPUs
// (AVX-512 vs SSE clones, thread counts) while a real bug (a wrong rope pair, a missed norm, an
// off-by-one position or block) moves logits by whole units and still fails.
double logit_tolerance(double logit) { return 1e-3 * std::max(1.0, std::fabs(logit)); }

json read_json(const std::string& name) {
    std::ifstream f(std::string(RL_TEST_DATA) + "/golden/" + name);
    if (!f) throw engine_error("cannot open tests/golden/" + name);
    return json::parse(f);
}

struct fixture {
    std::unique_ptr<gguf_file> file;
    std::unique_ptr<cpu_backend> be;
    std::unique_ptr<llama_model> model;
    // f32 by default: the llama.cpp references were made on fp32 weights.
    fixture(int block_size = 16, int blocks = 64, weight_storage ws = weight_storage::f32) {
        file = gguf_file::open(RL_MODEL_PATH);
        be = std::make_unique<cpu_backend>(0);
        model = llama_model::load(*file, *be, ws);
        be->alloc_kv(model->kv_layout_for(blocks, block_size));
    }
    int vocab() const { return model->config().vocab_size; }
};

int argmax(const float* v, int n) {
    int b = 0;
    for (int i = 1; i < n; ++i)
        if (v[i] > v[b]) b = i;
    return b;
}

using rl_test_steps::add_to_step;
using rl_test_steps::seq_state;

// Greedy-decodes n_new tokens for every sequence together: prefill (in `chunks` pieces), then
// one decode row per sequence per step. Never stops at EOS.
void greedy(llama_model& m, std::vector<seq_state>& seqs, int n_new, int chunks = 1) {
    const int V = m.config().vocab_size;
    std::vector<float> logits;
    std::vector<int> prompt_len;
    for (auto& s : seqs) prompt_len.push_back(int(s.ids.size()));
    for (int c = 0; c < chunks; ++c) {
        step_input in;
        std::vector<int> sizes;
        for (size_t i = 0; i < seqs.size(); ++i) {
            const int end = prompt_len[i] * (c + 1) / chunks;
            sizes.push_back(end - seqs[i].cached);
            if (sizes.back() > 0) in.logit_rows.push_back(add_to_step(in, seqs[i], sizes.back()));
        }
        m.forward(in, logits);
        size_t r = 0;
        for (size_t i = 0; i < seqs.size(); ++i) {
            if (sizes[i] <= 0) continue;
            seqs[i].cached += sizes[i];
            if (c == chunks - 1) seqs[i].ids.push_back(argmax(logits.data() + r * size_t(V), V));
            ++r;
        }
    }
    for (int t = 1; t < n_new; ++t) {
        step_input in;
        for (auto& s : seqs) in.logit_rows.push_back(add_to_step(in, s, 1));
        m.forward(in, logits);
        for (size_t i = 0; i < seqs.size(); ++i) {
            seqs[i].cached += 1;
            seqs[i].ids.push_back(argmax(logits.data() + i * size_t(V), V));
        }
    }
}

// Greedy decode of one sequence, recording each chosen token's margin over the runner-up.
void greedy_margins(llama_model& m, seq_state& s, int n_new, std::vector<float>& margins) {
    const int V = m.config().vocab_size;
    std::vector<float> logits;
    for (int t = 0; t < n_new; ++t) {
        step_input in;
        in.logit_rows.push_back(add_to_step(in, s, int(s.ids.size()) - s.cached));
        m.forward(in, logits);
        s.cached = int(s.ids.size());
        const int best = argmax(logits.data(), V);
        float second = -INFINITY;
        for (int i = 0; i < V; ++i)
            if (i != best) second = std::max(second, logits[size_t(i)]);
        margins.push_back(logits[size_t(best)] - second);
        s.ids.push_back(best);
    }
}

std::vector<int32_t> ids_of(const json& a) { return a.get<std::vector<int32_t>>(); }

std::vector<int32_t> contiguous_table(int first, int n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

} // namespace

class TestGolden : public QObject {
    Q_OBJECT
private slots:
    void greedyMatchesLlamaCpp();
    void logitsMatchLlamaCpp();
    void chunkedPagedAndBatched();
    void nativeMatchesF32UpToNearTie();
    void speed();

private:
    void speed_with(weight_storage ws);
};

void TestGolden::greedyMatchesLlamaCpp() {
    const json g = read_json("greedy_smollm2.json");
    fixture fx;
    for (const auto& c : g["cases"]) {
        const auto want = ids_of(c["continuation_ids"]);
        std::vector<seq_state> s(1);
        s[0].ids = ids_of(c["prompt_ids"]);
        s[0].table = contiguous_table(0, 16);
        const size_t plen = s[0].ids.size();
        greedy(*fx.model, s, int(want.size()));
        const std::vector<int32_t> got(s[0].ids.begin() + ptrdiff_t(plen), s[0].ids.end());
        std::printf("greedy %-16s %s\n", c["name"].get<std::string>().c_str(), got == want ? "match" : "MISMATCH");
        QVERIFY2(got == want, std::string(c["name"].get<std::string>() + ": got " + show_ids(got) + "\nwant " + show_ids(want)).c_str());
    }
}

void TestGolden::logitsMatchLlamaCpp() {
    const json g = read_json("logits_smollm2.json");
    fixture fx;
    const int V = fx.vocab();
    double max_abs = 0, max_ratio = 0;
    for (const auto& c : g["cases"]) {
        const auto prompt = ids_of(c["prompt_ids"]);
        const auto positions = ids_of(c["positions"]);
        step_input in;
        seq_state s;
        s.ids = prompt;
        s.table = contiguous_table(0, 16);
        add_to_step(in, s, int(prompt.size()));
        in.logit_rows = positions;
        std::vector<float> logits;
        fx.model->forward(in, logits);
        for (size_t k = 0; k < positions.size(); ++k) {
            const float* row = logits.data() + k * size_t(V);
            const auto& top5 = c["top5"][k];
            QCOMPARE(argmax(row, V), top5[0][0].get<int>());
            for (const auto& e : top5) {
                const int id = e[0].get<int>();
                const double want = e[1].get<double>(), diff = std::fabs(row[id] - want);
                max_abs = std::max(max_abs, diff);
                max_ratio = std::max(max_ratio, diff / logit_tolerance(want));
                QVERIFY2(diff <= logit_tolerance(want), std::string(c["name"].get<std::string>() + " position " +
                                                            std::to_string(positions[k]) + " id " + std::to_string(id) +
                                                            ": " + std::to_string(row[id]) + " vs " + std::to_string(want)).c_str());
            }
        }
    }
    std::printf("logits: max |ours - llama.cpp| over golden top-5 = %.3g (%.1f%% of the tolerance)\n", max_abs,
                100 * max_ratio);
}

void TestGolden::chunkedPagedAndBatched() {
    const json g = read_json("greedy_smollm2.json");
    const json& c = g["cases"][3];  // a chat prompt (~37 tokens), long enough to span many blocks
    const auto want = ids_of(c["continuation_ids"]);
    const auto prompt = ids_of(c["prompt_ids"]);

    // Block size 8, a shuffled block table, prompt in two prefill chunks.
    fixture fx(8, 32);
    std::vector<int32_t> perm(32);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(9));
    std::vector<seq_state> s(1);
    s[0].ids = prompt;
    s[0].table.assign(perm.begin(), perm.begin() + 12);
    greedy(*fx.model, s, int(want.size()), 2);
    QVERIFY2(std::equal(want.begin(), want.end(), s[0].ids.begin() + ptrdiff_t(prompt.size())), std::string("chunked + paged run diverged: " + show_ids(s[0].ids)).c_str());

    // Two sequences of different lengths sharing every step, on disjoint shuffled blocks.
    const json& c0 = g["cases"][0];
    std::vector<seq_state> two(2);
    two[0].ids = ids_of(c0["prompt_ids"]);
    two[0].table.assign(perm.begin() + 12, perm.begin() + 20);
    two[1].ids = prompt;
    two[1].table.assign(perm.begin() + 20, perm.begin() + 32);
    const size_t p0 = two[0].ids.size();
    greedy(*fx.model, two, 24, 3);  // three prefill chunks: the short prompt runs out first
    const auto want0 = ids_of(c0["continuation_ids"]);
    QVERIFY(std::equal(two[0].ids.begin() + ptrdiff_t(p0), two[0].ids.end(), want0.begin()));
    QVERIFY(std::equal(two[1].ids.begin() + ptrdiff_t(prompt.size()), two[1].ids.end(), want.begin()));
}

// Native blocks (integer products with 16-bit activations for decode) against the fp32 path on
// the same file, with issue 24's rule: free-running greedy must agree until the first step where
// either path's top two logits are within 0.02. Teacher-forced on the fp32 continuation, every
// step's logits must also be within 0.05 RMS of fp32's (SmolLM2's logits are ~20-30; the
// activations' rounding moves them by a few thousandths), and the top token must agree wherever
// fp32's top two are 0.1 or more apart. 8-bit activations (ggml's q8_0) failed all three here:
// 0.76 RMS, and greedy parted at gaps of 0.2 on three of six prompts. A decoding bug (a nibble
// order, a scale, a plane) moves logits by whole units.
void TestGolden::nativeMatchesF32UpToNearTie() {
    const json g = read_json("greedy_smollm2.json");
    fixture ref(16, 64, weight_storage::f32), nat(16, 64, weight_storage::native);
    QVERIFY(nat.model->block_matmuls());
    constexpr float kNearTie = 0.02f, kMaxRms = 0.05f, kClear = 0.1f;
    const int V = ref.vocab();
    std::string failures;
    for (const auto& c : g["cases"]) {
        const std::string name = c["name"].get<std::string>();
        const int n_new = int(c["continuation_ids"].size());
        seq_state a, b, t;
        a.ids = b.ids = t.ids = ids_of(c["prompt_ids"]);
        a.table = b.table = t.table = contiguous_table(0, 16);
        const size_t plen = a.ids.size();
        std::vector<float> ma, mb;
        greedy_margins(*ref.model, a, n_new, ma);
        greedy_margins(*nat.model, b, n_new, mb);
        // Teacher-forced: the native model reads fp32's tokens; compare its logits at each step.
        double worst_rms = 0;
        int clear_steps = 0;
        std::vector<float> la, lt;
        seq_state r = t;  // fp32 again, step by step, for its logits
        for (int k = 0; k < n_new; ++k) {
            for (auto* sp : {&r, &t}) {
                step_input in;
                in.logit_rows.push_back(add_to_step(in, *sp, int(sp->ids.size()) - sp->cached));
                (sp == &r ? *ref.model : *nat.model).forward(in, sp == &r ? la : lt);
                sp->cached = int(sp->ids.size());
                sp->ids.push_back(a.ids[plen + size_t(k)]);
            }
            double ss = 0;
            for (int v = 0; v < V; ++v) ss += double(la[size_t(v)] - lt[size_t(v)]) * (la[size_t(v)] - lt[size_t(v)]);
            worst_rms = std::max(worst_rms, std::sqrt(ss / V));
            if (ma[size_t(k)] >= kClear) {
                ++clear_steps;
                if (argmax(lt.data(), V) != a.ids[plen + size_t(k)])
                    failures += name + ": step " + std::to_string(k) + " top token differs at an fp32 margin of " +
                                std::to_string(ma[size_t(k)]) + "\n";
            }
        }
        if (worst_rms > kMaxRms) failures += name + ": logits RMS " + std::to_string(worst_rms) + " from fp32\n";
        int agree = 0;
        while (agree < n_new && a.ids[plen + size_t(agree)] == b.ids[plen + size_t(agree)]) ++agree;
        auto first_tie = [&](float th) {
            int i = 0;
            while (i < n_new && ma[size_t(i)] >= th && mb[size_t(i)] >= th) ++i;
            return i;
        };
        const int tie = first_tie(kNearTie);
        std::printf("native %-16s worst logits RMS %.4f; top token checked on %d clear steps; greedy agrees on "
                    "%2d/%d (first gap under %.2f at %d)\n",
                    name.c_str(), worst_rms, clear_steps, agree, n_new, kNearTie, tie);
        if (agree < tie)
            failures += name + ": native diverged at token " + std::to_string(agree) + " before any near tie (" +
                        std::to_string(tie) + ")\nf32    " + show_ids(a.ids) + "\nnative " + show_ids(b.ids) + "\n";
    }
    QVERIFY2(failures.empty(), failures.c_str());
}

void TestGolden::speed() {
    for (weight_storage ws : {weight_storage::f32, weight_storage::native}) speed_with(ws);
}

void TestGolden::speed_with(weight_storage ws) {
    fixture fx(16, 64, ws);
    const int V = fx.vocab();
    seq_state s;
    for (int i = 0; i < 128; ++i) s.ids.push_back(int32_t((i * 7919 + 13) % 40000 + 100));
    s.table = contiguous_table(0, 64);
    std::vector<float> logits;
    using clk = std::chrono::steady_clock;
    step_input in;
    in.logit_rows.push_back(add_to_step(in, s, 128));
    fx.model->forward(in, logits);  // warm-up (page faults, thread wake-up)
    const auto t0 = clk::now();
    fx.model->forward(in, logits);
    const double prefill_s = std::chrono::duration<double>(clk::now() - t0).count();
    s.cached = 128;
    const int n_dec = 16;
    const auto t1 = clk::now();
    for (int i = 0; i < n_dec; ++i) {
        s.ids.push_back(argmax(logits.data(), V));
        step_input d;
        d.logit_rows.push_back(add_to_step(d, s, 1));
        fx.model->forward(d, logits);
        ++s.cached;
    }
    const double dec_ms = std::chrono::duration<double, std::milli>(clk::now() - t1).count() / n_dec;
    std::printf("cpu %s (%d threads, %s): prefill 128 tokens %.0f ms (%.0f tok/s), decode %.1f ms/token at ctx ~140\n",
                weight_storage_name(ws), fx.be->threads(), fx.be->info().name.c_str(), prefill_s * 1e3, 128 / prefill_s, dec_ms);
    QVERIFY(std::isfinite(logits[0]));
}

RL_TEST_MAIN(TestGolden, greedyMatchesLlamaCpp, logitsMatchLlamaCpp, chunkedPagedAndBatched, nativeMatchesF32UpToNearTie,
             speed)
#include "test_golden.moc"
