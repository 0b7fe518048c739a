// test_families: the model families past llama/qwen2 (qwen3, qwen3moe, gemma3, phi3, Mistral and
// Mixtral as `llama`) on the CPU backend against llama.cpp, on the tiny random-weight GGUFs of
// tests/golden/make_tiny_models.py (models/tiny, made by the set-up) and the goldens of
// generate_family_golden.py (tests/golden/family_*.json); mistral_swa (an 8-token window, prompts
// of 41-62 tokens) against HF transformers (generate_swa_golden.py: llama.cpp ignores the window
// for `llama`; test_sliding_window serves it through the engine). Per family: the 32 greedy
// tokens after each prompt match exactly; the top-20 logits at the recorded positions match
// within the tolerance of test_golden; and the three prompts decoded together, prefilled in two chunks
// through 8-token blocks in a shuffled order, give the same tokens (sliding windows and expert
// routing across a mixed batch). Also checks what model_config read for each family.
#include "rl_test.h"
#include "step_rows.h"
#include "token_text.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/llama_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>

using namespace rl;
using json = nlohmann::json;

namespace {

// As test_golden: both sides compute in fp32 on the same weights with an fp32 KV cache. gemma3
// differs in one more place: ggml's CPU GELU reads a table of fp16 inputs and outputs
// (GGML_GELU_FP16), ours is the fp32 formula; tests print the observed share of the tolerance.
double logit_tolerance(double logit) { return 1e-3 * std::max(1.0, std::fabs(logit)); }

json read_golden(const std::string& family) {
    const std::string path = std::string(RL_TEST_DATA) + "/golden/family_" + family + ".json";
    std::ifstream f(path);
    if (!f) throw engine_error("cannot open " + path);
    return json::parse(f);
}

struct fixture {
    std::unique_ptr<gguf_file> file;
    std::unique_ptr<cpu_backend> be;
    std::unique_ptr<llama_model> model;
    fixture(const std::string& family, int block_size = 16, int blocks = 64) {
        // Made by scripts/setup.sh (tests/golden/make_tiny_models.py); fail, not skip, without them.
        file = gguf_file::open(std::string(RL_MODELS_DIR) + "/tiny/tiny-" + family + ".gguf");
        be = std::make_unique<cpu_backend>(0);
        model = llama_model::load(*file, *be, weight_storage::f32);
        be->alloc_kv(model->kv_layout_for(blocks, block_size));
    }
    int vocab() const { return model->config().vocab_size; }
};

int argmax(const float* v, int n) { return int(std::max_element(v, v + n) - v); }

using rl_test_steps::add_to_step;
using rl_test_steps::seq_state;

// Greedy decode of all sequences together: the prompts in `chunks` prefill steps, then one row
// per sequence per step, until each has n_new new tokens.
void greedy(llama_model& m, std::vector<seq_state>& seqs, int n_new, int chunks) {
    const int V = m.config().vocab_size;
    std::vector<float> logits;
    std::vector<int> plen;
    for (auto& s : seqs) plen.push_back(int(s.ids.size()));
    for (int c = 0; c < chunks; ++c) {
        step_input in;
        std::vector<int> sizes;
        for (size_t i = 0; i < seqs.size(); ++i) {
            sizes.push_back(plen[i] * (c + 1) / chunks - seqs[i].cached);
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

std::vector<int32_t> ids_of(const json& a) { return a.get<std::vector<int32_t>>(); }

// The whole check for one family; returns "" or what failed.
std::string check_family(const std::string& family) {
    const json g = read_golden(family);
    const int n_new = g["n_greedy"].get<int>();
    fixture fx(family);
    const int V = fx.vocab();
    // 1. each prompt alone: prefill in one step, then decode
    for (const auto& c : g["cases"]) {
        std::vector<seq_state> one(1);
        one[0].ids = ids_of(c["prompt_ids"]);
        const size_t plen = one[0].ids.size();
        one[0].table.resize(8);
        std::iota(one[0].table.begin(), one[0].table.end(), 0);
        greedy(*fx.model, one, n_new, 1);
        const std::vector<int32_t> got(one[0].ids.begin() + long(plen), one[0].ids.end());
        const auto want = ids_of(c["continuation_ids"]);
        if (got != want)
            return family + "/" + c["name"].get<std::string>() + " greedy: got " + show_ids(got) + "\n want " + show_ids(want);
    }
    // 2. logits at the recorded positions, the prompt in one batch
    double worst = 0, max_abs = 0;
    for (const auto& c : g["cases"]) {
        const auto ids = ids_of(c["prompt_ids"]);
        seq_state s;
        s.ids = ids;
        s.table.resize(8);
        std::iota(s.table.begin(), s.table.end(), 0);
        step_input in;
        add_to_step(in, s, int(ids.size()));
        for (const auto& p : c["logit_positions"]) in.logit_rows.push_back(p.get<int>());
        std::vector<float> logits;
        fx.model->forward(in, logits);
        for (size_t j = 0; j < in.logit_rows.size(); ++j) {
            const float* row = logits.data() + j * size_t(V);
            const auto& top = c["top_logits"][j];
            if (argmax(row, V) != top[0][0].get<int>())
                return family + "/" + c["name"].get<std::string>() + ": argmax differs at position " +
                       std::to_string(in.logit_rows[j]);
            for (const auto& e : top) {
                const double want = e[1].get<double>(), diff = std::fabs(row[e[0].get<int>()] - want);
                max_abs = std::max(max_abs, diff);
                worst = std::max(worst, diff / logit_tolerance(want));
                if (diff > logit_tolerance(want))
                    return family + "/" + c["name"].get<std::string>() + ": logit of token " +
                           std::to_string(e[0].get<int>()) + " at position " + std::to_string(in.logit_rows[j]) +
                           " is " + std::to_string(row[e[0].get<int>()]) + ", golden " + std::to_string(want);
            }
        }
    }
    std::printf("%s: logits max |ours - golden| over its top-20 = %.3g (%.1f%% of the tolerance)\n",
                family.c_str(), max_abs, 100 * worst);
    // 3. all prompts in one batch: two prefill chunks, 8-token blocks handed out in a shuffled order
    fixture fb(family, 8, 64);
    std::vector<int32_t> blocks(64);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
    std::vector<seq_state> seqs(g["cases"].size());
    for (size_t i = 0; i < seqs.size(); ++i) {
        seqs[i].ids = ids_of(g["cases"][i]["prompt_ids"]);
        seqs[i].table.assign(blocks.begin() + long(i * 12), blocks.begin() + long(i * 12 + 12));
    }
    greedy(*fb.model, seqs, n_new, 2);
    for (size_t i = 0; i < seqs.size(); ++i) {
        const auto& c = g["cases"][i];
        const std::vector<int32_t> got(seqs[i].ids.end() - n_new, seqs[i].ids.end());
        if (got != ids_of(c["continuation_ids"]))
            return family + "/" + c["name"].get<std::string>() + " batched: got " + show_ids(got);
    }
    return "";
}

} // namespace

class TestFamilies : public QObject {
    Q_OBJECT
private slots:
    void configs();
    void qwen3() { run("qwen3"); }
    void qwen3moe() { run("qwen3moe"); }
    void gemma3() { run("gemma3"); }
    void phi3() { run("phi3"); }
    void mistral() { run("mistral"); }
    void mistral_swa() { run("mistral_swa"); }
    void mixtral() { run("mixtral"); }
    void expertsReadAreTheRoutedUnion();

private:
    void run(const std::string& family) {
        const std::string why = check_family(family);
        QVERIFY2(why.empty(), why.c_str());
    }
};

// What model_config read from each file: the features the goldens exercise must be on.
void TestFamilies::configs() {
    auto cfg = [](const std::string& f) {
        return model_config::from_gguf(*gguf_file::open(std::string(RL_MODELS_DIR) + "/tiny/tiny-" + f + ".gguf"));
    };
    const model_config q3 = cfg("qwen3");
    QVERIFY(q3.qk_norm && q3.rope_neox && !q3.is_moe() && q3.q_dim() != q3.d_model);
    const model_config moe = cfg("qwen3moe");
    QVERIFY(moe.is_moe() && moe.n_experts == 8 && moe.n_experts_used == 2 && moe.d_ff_expert == 32);
    const model_config ge = cfg("gemma3");
    QVERIFY(ge.post_norms && ge.qk_norm && ge.act == ffn_activation::gelu_tanh && ge.sliding_window == 6);
    QCOMPARE(ge.embed_scale, std::sqrt(64.f));
    // sliding_window_pattern 2: every second layer global
    QVERIFY(ge.windowed(0) && !ge.windowed(1) && ge.windowed(2) && !ge.windowed(3));
    QVERIFY(ge.rope_theta_swa == 10000.f && ge.rope_scaling == rope_scaling_type::linear);
    QVERIFY(ge.rope_inv_freq_swa() != ge.rope_inv_freq());
    const model_config phi = cfg("phi3");
    QVERIFY(phi.rope_neox && phi.rope_freq_factors.size() == 16 && phi.rope_attn_factor > 1.f);
    QVERIFY(phi.softmax_scale() > 1.f / std::sqrt(32.f));  // the LongRoPE attention factor, squared
    const model_config mi = cfg("mistral");
    QVERIFY(!mi.rope_neox && mi.sliding_window == 4096 && mi.windowed(0) && mi.windowed(1));
    const model_config ms = cfg("mistral_swa");
    QVERIFY(!ms.rope_neox && ms.sliding_window == 8 && ms.kv_window() == 8);
    const model_config mx = cfg("mixtral");
    QVERIFY(mx.is_moe() && mx.n_experts == 4 && mx.d_ff_expert == mx.d_ff && mx.sliding_window == 0);
}

// The cost model's expert bytes come from the experts a step really ran: the union of the
// routed ones per layer (backend::take_experts_run, llama_model::last_experts_read).
void TestFamilies::expertsReadAreTheRoutedUnion() {
    cpu_backend be(1);
    const int64_t d = 4, E = 4, ff = 2;
    // Router rows 10 * e_i: a row of x goes to the experts of its largest components.
    std::vector<float> router(size_t(E * d), 0.f), xs = {0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0, 0};
    for (int64_t e = 0; e < E; ++e) router[size_t(e * d + e)] = 10.f;
    std::vector<float> gate(size_t(E * ff * d), 0.1f), down(size_t(E * d * ff), 0.1f);
    tensor x = be.alloc(3, d, dtype::f32), gi = be.alloc(E, d, dtype::f32), g = be.alloc(E * ff, d, dtype::f32),
           u = be.alloc(E * ff, d, dtype::f32), dn = be.alloc(E * d, ff, dtype::f32), out = be.alloc(3, d, dtype::f32);
    be.upload(x, xs.data());
    be.upload(gi, router.data());
    be.upload(g, gate.data());
    be.upload(u, gate.data());
    be.upload(dn, down.data());
    backend::moe_params p{int(E), 1, int(ff), true};
    be.take_experts_run();
    be.moe_ffn(x, gi, g, u, dn, p, out);
    QCOMPARE(be.take_experts_run(), int64_t(2));   // rows 0 and 1 -> expert 2, row 2 -> expert 0
    p.n_used = 2;   // ties go to the lower index: {2, 0}, {2, 0}, {0, 1}
    be.moe_ffn(x, gi, g, u, dn, p, out);
    be.moe_ffn(x, gi, g, u, dn, p, out);
    QCOMPARE(be.take_experts_run(), int64_t(6));   // summed over calls (layers), then reset
    QCOMPARE(be.take_experts_run(), int64_t(0));
    for (tensor* t : {&x, &gi, &g, &u, &dn, &out}) be.release(*t);

    // Through the model: one token reads exactly n_used experts a layer; a prompt more.
    fixture fx("qwen3moe");
    const model_config& c = fx.model->config();
    seq_state s;
    for (int i = 0; i < 40; ++i) s.ids.push_back(int32_t(100 + 37 * i % 900));
    s.table.resize(8);
    std::iota(s.table.begin(), s.table.end(), 0);
    step_input one;
    one.logit_rows.push_back(add_to_step(one, s, 1));
    std::vector<float> logits;
    fx.model->forward(one, logits);
    QCOMPARE(fx.model->last_experts_read(), double(c.n_layers * c.n_experts_used));
    s.cached = 1;
    step_input prompt;
    prompt.logit_rows.push_back(add_to_step(prompt, s, 39));
    fx.model->forward(prompt, logits);
    const double read = fx.model->last_experts_read();
    QVERIFY2(read > c.n_layers * c.n_experts_used && read <= c.n_layers * c.n_experts, std::to_string(read).c_str());
}

RL_TEST_MAIN(TestFamilies, configs, qwen3, qwen3moe, gemma3, phi3, mistral, mistral_swa, mixtral,
             expertsReadAreTheRoutedUnion)
#include "test_families.moc"
