// test_gpu_families: the model families past llama/qwen2 on the CUDA backend against the CPU
// backend (the fp32 reference that test_families holds to llama.cpp and transformers), on the
// tiny random-weight GGUFs of tests/golden/make_tiny_models.py: qwen3 (q/k norms), qwen3moe and
// Mixtral (routed experts: cuda_moe.cpp), gemma3 (scaled embedding, GeGLU, post norms, windowed
// and global layers), phi3, Mistral, and mistral_swa, whose 8-token window is shorter than its
// prompts. The tiny models' head dims (32, 16) and the windows take the general attention kernel
// (attention_window.cu). Per family the golden prompts run as one batch through both backends,
// step by step with the same inputs: prefill in two chunks through shuffled 8-token blocks, then
// the golden continuation fed back one token per sequence per step (teacher forcing, so one
// near tie cannot make the rest incomparable). Decode steps repeat, so the CUDA graph path
// (record, then replay) runs too, except for the expert models (eager by design). Where a window
// covers every layer, blocks behind it are freed (-1 in the tables, step_input::kv_window), as
// the scheduler does. Every logit row must agree within MAX_REL_L2 (expert models: 1 row in 20 may
// reach 0.25, where a router near tie picks another expert), and the top-1 tokens must agree
// except at a near tie (the CPU's logits of the two picks within TIE_MARGIN).
// Without a CUDA device every test skips; without the tiny models it fails.
#include "gpu_test.h"
#include "step_rows.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/llama_model.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <numeric>

namespace {

using json = nlohmann::json;

// bf16 weights, activations and KV against fp32 everywhere: the logits (about 30 in size) differ
// by the rounding of each sublayer's inputs and outputs.
constexpr double max_rel_l2 = 5e-2;
constexpr double max_rel_l2_expert_flip = 0.25;  // and for at most 1 row in 20 of an expert model
constexpr float tie_margin = 0.5f;
constexpr int block_size = 8, n_blocks = 64, table_len = 12;

json read_golden(const std::string& family) {
    const std::string path = std::string(RL_TEST_DATA) + "/golden/family_" + family + ".json";
    std::ifstream f(path);
    if (!f) throw rl::engine_error("cannot open " + path);
    return json::parse(f);
}

struct pair_of_models {
    std::unique_ptr<rl::gguf_file> file;
    rl::cpu_backend cpu{0};
    std::unique_ptr<rl::backend> gpu;
    std::unique_ptr<rl::llama_model> mc, mg;
    explicit pair_of_models(const std::string& family) {
        file = rl::gguf_file::open(std::string(RL_MODELS_DIR) + "/tiny/tiny-" + family + ".gguf");
        gpu = rl::make_cuda_backend(0);
        mc = rl::llama_model::load(*file, cpu, rl::weight_storage::f32);
        mg = rl::llama_model::load(*file, *gpu);
        cpu.alloc_kv(mc->kv_layout_for(n_blocks, block_size));
        gpu->alloc_kv(mg->kv_layout_for(n_blocks, block_size));
    }
};

struct seq : rl_test_steps::seq_state {  // ids: the prompt, then the golden continuation
    int prompt = 0;
};

struct tally {
    double worst = 0;
    int rows = 0, ties = 0, steps = 0, over = 0;  // over: rows past max_rel_l2 (experts only, below)
    std::string error;
};

// One step through both models; compares every logit row.
void run_both(pair_of_models& m, const rl::step_input& in, const std::string& what, tally& t) {
    std::vector<float> lc, lg;
    m.mc->forward(in, lc);
    m.mg->forward(in, lg);
    ++t.steps;
    const int V = m.mc->config().vocab_size;
    if (m.mc->config().is_moe() && m.mg->last_experts_read() <= 0)
        t.error = what + ": the GPU reports no experts read (cpu " + std::to_string(m.mc->last_experts_read()) + ")";
    for (size_t row = 0; row < in.logit_rows.size(); ++row) {
        const float* c = lc.data() + row * size_t(V);
        const float* g = lg.data() + row * size_t(V);
        const double rel = rl_test_steps::logits_rel_l2(g, c, V);
        t.worst = std::max(t.worst, rel);
        ++t.rows;
        if (!(rel < max_rel_l2)) {
            // A router near tie can pick another expert under bf16 rounding (test_moe_route: the
            // CPU and GPU route by the same rule, on logits that differ by rounding), which moves
            // that row further than rounding does: expert models may have a few such rows.
            ++t.over;
            std::printf("%s row %zu: logits rel L2 %.3g\n", what.c_str(), row, rel);
            if ((!m.mc->config().is_moe() || !(rel < max_rel_l2_expert_flip)) && t.error.empty())
                t.error = what + " row " + std::to_string(row) + ": logits rel L2 " + std::to_string(rel);
        }
        const size_t tc = size_t(std::max_element(c, c + V) - c), tg = size_t(std::max_element(g, g + V) - g);
        if (tc == tg) continue;
        if (c[tc] - c[tg] > tie_margin && t.error.empty())
            t.error = what + " row " + std::to_string(row) + ": top-1 cpu " + std::to_string(tc) + " (" +
                      std::to_string(c[tc]) + ") vs gpu " + std::to_string(tg) + " (cpu logit " + std::to_string(c[tg]) + ")";
        ++t.ties;
    }
}

// Frees (-1) the blocks wholly before the window of each sequence's next query, as the scheduler
// does for a model whose every layer is windowed.
void free_behind_window(std::vector<seq>& seqs, int window) {
    if (window <= 0) return;
    for (seq& s : seqs) {
        const int first_needed = std::max(0, s.cached - window + 1);
        for (int b = 0; (b + 1) * block_size <= first_needed; ++b) s.table[size_t(b)] = -1;
    }
}

std::string check_family(const std::string& family) {
    const json g = read_golden(family);
    pair_of_models m(family);
    const int window = m.mc->config().kv_window();
    std::vector<int32_t> blocks(n_blocks - 1);  // the pool's last block is the padding block
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(11));
    std::vector<seq> seqs(g["cases"].size());
    for (size_t i = 0; i < seqs.size(); ++i) {
        const auto& c = g["cases"][i];
        seqs[i].ids = c["prompt_ids"].get<std::vector<int32_t>>();
        seqs[i].prompt = int(seqs[i].ids.size());
        for (int32_t t : c["continuation_ids"].get<std::vector<int32_t>>()) seqs[i].ids.push_back(t);
        seqs[i].table.assign(blocks.begin() + long(i * table_len), blocks.begin() + long((i + 1) * table_len));
        if (int(seqs[i].ids.size()) > table_len * block_size) return family + ": a case is longer than its table";
    }
    tally t;
    for (int chunk = 0; chunk < 2; ++chunk) {  // the prompts in two prefill chunks, all sequences together
        rl::step_input in;
        in.kv_window = window;
        std::vector<int> sizes;
        for (seq& s : seqs) {
            sizes.push_back(s.prompt * (chunk + 1) / 2 - s.cached);
            in.logit_rows.push_back(rl_test_steps::add_to_step(in, s, sizes.back()));
        }
        run_both(m, in, family + " prefill chunk " + std::to_string(chunk), t);
        for (size_t i = 0; i < seqs.size(); ++i) seqs[i].cached += sizes[i];
        free_behind_window(seqs, window);
    }
    for (int step = 0;; ++step) {  // the golden continuation fed back, one row per unfinished sequence
        rl::step_input in;
        in.kv_window = window;
        std::vector<seq*> in_step;
        for (seq& s : seqs)
            if (s.cached < int(s.ids.size()) - 1) {
                in.logit_rows.push_back(rl_test_steps::add_to_step(in, s, 1));
                in_step.push_back(&s);
            }
        if (in_step.empty()) break;
        run_both(m, in, family + " decode " + std::to_string(step), t);
        for (seq* s : in_step) ++s->cached;
        free_behind_window(seqs, window);
    }
    std::printf("%s: %d steps, %d logit rows, worst rel L2 %.3g (bound %.3g, %d rows past it), %d near ties accepted%s\n",
                family.c_str(), t.steps, t.rows, t.worst, max_rel_l2, t.over, t.ties,
                window > 0 ? (", window " + std::to_string(window) + " with freed blocks").c_str() : "");
    if (t.error.empty() && t.over * 20 > t.rows)
        t.error = family + ": " + std::to_string(t.over) + " of " + std::to_string(t.rows) + " rows past rel L2 " +
                  std::to_string(max_rel_l2);
    if (t.error.empty() && t.ties * 10 > t.rows)
        t.error = family + ": " + std::to_string(t.ties) + " of " + std::to_string(t.rows) +
                  " rows pick another token (near ties should be rare)";
    return t.error;
}

} // namespace

class TestGpuFamilies : public QObject {
    Q_OBJECT
private slots:
    void qwen3() { run("qwen3"); }
    void qwen3moe() { run("qwen3moe"); }
    void gemma3() { run("gemma3"); }
    void phi3() { run("phi3"); }
    void mistral() { run("mistral"); }
    void mistral_swa() { run("mistral_swa"); }
    void mixtral() { run("mixtral"); }

private:
    void run(const std::string& family) {
        GPU_OR_SKIP();
        std::string why;
        try {
            why = check_family(family);
        } catch (const std::exception& e) {
            why = family + ": " + e.what();
        }
        QVERIFY2(why.empty(), why.c_str());
    }
};

RL_TEST_MAIN(TestGpuFamilies, qwen3, qwen3moe, gemma3, phi3, mistral, mistral_swa, mixtral)
#include "test_gpu_families.moc"
