// The CUDA backend end to end: SmolLM2-135M (Q4_1) loaded on both cpu_backend (the fp32
// reference) and the CUDA backend, driven by the same llama_model::forward, logits compared.
// Expected agreement: the GPU keeps weights (--weights auto expands this small model to bf16),
// matmul inputs and the KV cache in bf16 but the residual stream and the logits in f32 (the CPU:
// everything f32), so the logits differ by bf16 rounding of each sublayer's inputs and outputs only; the test allows MAX_REL_L2 (below) and
// prints what it measured. Greedy (top-1) tokens must match; the one exception is a near tie:
// the GPU's pick is within 0.25 of the CPU's best logit, which bf16 rounding can flip; it is
// printed as a warning. Every step is also run through forward_greedy (on-device argmax), which
// must pick the argmax of the GPU's own logits; repeated decode steps of one shape exercise the
// recorded (CUDA graph) path: the first runs eagerly, the second records, later ones replay.
// Without a CUDA device every test skips with the reason; without the model file it fails.
#include "gpu_test.h"
#include "step_rows.h"

#include "backend/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "kernels.h"
#include "model/llama_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {


// Measured on an H100: with the bf16 residual stream the worst prefill row reached 0.112; with
// the f32 residual stream and f32 logits 0.038 (prefill) and 0.035 (batched step 0). What is
// left is bf16 rounding of the weights (Q4_1 values d*q+m rounded to 8 mantissa bits) and of each
// matmul input and output. The bound keeps ~25% headroom over that and fails a return to the
// bf16 residual (3x over it).
constexpr double max_rel_l2 = 5e-2;
constexpr float tie_margin = 0.25f;

struct pair_of_models {
    std::unique_ptr<rl::gguf_file> file;
    rl::cpu_backend cpu{0};
    std::unique_ptr<rl::backend> gpu;
    std::unique_ptr<rl::llama_model> mc, mg;

    pair_of_models() {
        file = rl::gguf_file::open(RL_MODEL_PATH);
        gpu = rl::make_cuda_backend(0);
        mc = rl::llama_model::load(*file, cpu, rl::weight_storage::f32);  // the fp32 reference
        mg = rl::llama_model::load(*file, *gpu);
        cpu.alloc_kv(mc->kv_layout_for(64, 16));
        gpu->alloc_kv(mg->kv_layout_for(64, 16));
    }
    int vocab() const { return mc->config().vocab_size; }
};

size_t argmax(const float* v, int n) { return size_t(std::max_element(v, v + n) - v); }

// Runs one step on both backends and compares every logit row. Returns the CPU's greedy tokens.
struct step_check {
    std::vector<int32_t> next;  // CPU argmax per logit row
    double worst = 0;           // largest relative L2 over the rows
    std::string error;          // non-empty: a top-1 mismatch that is not a near tie
};

step_check run_both(pair_of_models& m, const rl::step_input& in, const std::string& what) {
    std::vector<float> lc, lg;
    m.mc->forward(in, lc);
    m.mg->forward(in, lg);
    std::vector<int32_t> ids;
    m.mg->forward_greedy(in, ids);  // the same step again (rewrites the same KV): argmax on the device
    step_check r;
    const int V = m.vocab();
    for (size_t row = 0; row < in.logit_rows.size(); ++row) {
        const float* c = lc.data() + row * size_t(V);
        const float* g = lg.data() + row * size_t(V);
        const double rel = rl_test_steps::logits_rel_l2(g, c, V);
        r.worst = std::max(r.worst, rel);
        const size_t tc = argmax(c, V), tg = argmax(g, V);
        r.next.push_back(int32_t(tc));
        if (ids.size() != in.logit_rows.size() || ids[row] != int32_t(tg))
            r.error = what + " row " + std::to_string(row) + ": forward_greedy disagrees with the GPU logits' argmax";
        if (tc != tg) {
            const std::string msg = what + " row " + std::to_string(row) + ": top-1 cpu " + std::to_string(tc) + " (" +
                                    std::to_string(c[tc]) + ") vs gpu " + std::to_string(tg) + " (cpu logit " +
                                    std::to_string(c[tg]) + ")";
            if (c[tc] - c[tg] > tie_margin) r.error = msg;
            else std::printf("WARNING: near tie accepted: %s\n", msg.c_str());
        }
    }
    std::printf("%s: worst logits rel L2 %.3g over %zu rows\n", what.c_str(), r.worst, in.logit_rows.size());
    return r;
}

const std::vector<int32_t> prompt = {1,    504,  3458, 314,  260,  1345, 28,   2114, 5249, 30,
                                     2683, 2060, 314,  4564, 355,  253,  1345, 1019, 30,   198};

} // namespace

class TestGpuBackend : public QObject {
    Q_OBJECT
private slots:
    void prefillThenDecodeMatchesCpu() {
        GPU_OR_SKIP();
        if (!std::ifstream(RL_MODEL_PATH).good()) QFAIL("model missing: run scripts/fetch-model");
        pair_of_models m;
        const int n = int(prompt.size());
        rl::step_input in;
        in.tokens = prompt;
        for (int i = 0; i < n; ++i) in.positions.push_back(i);
        in.seqs.push_back(rl::seq_slice{0, n, 0, {11, 3, 40, 7}});  // shuffled blocks, room for 64 tokens
        for (int i = 0; i < n; ++i) in.logit_rows.push_back(i);    // every prefill row
        step_check r = run_both(m, in, "prefill");
        QVERIFY2(r.error.empty(), r.error.c_str());
        QVERIFY2(r.worst < max_rel_l2, ("prefill rel L2 " + std::to_string(r.worst)).c_str());
        int32_t tok = r.next.back();
        for (int s = 0; s < 6; ++s) {
            rl::step_input d;
            d.tokens = {tok};
            d.positions = {n + s};
            d.seqs.push_back(rl::seq_slice{0, 1, n + s, {11, 3, 40, 7}});
            d.logit_rows = {0};
            r = run_both(m, d, "decode " + std::to_string(s));
            QVERIFY2(r.error.empty(), r.error.c_str());
            QVERIFY2(r.worst < max_rel_l2, ("decode rel L2 " + std::to_string(r.worst)).c_str());
            tok = r.next[0];
        }
    }

    // Three sequences of different lengths prefilled in one step, then batched decodes, then a
    // chunk that continues a cached context beside two decodes. The GPU pads the three-row
    // decodes to four (graph_rows) and runs them eagerly, recorded, then replayed.
    void batchedSequencesMatchCpu() {
        GPU_OR_SKIP();
        if (!std::ifstream(RL_MODEL_PATH).good()) QFAIL("model missing: run scripts/fetch-model");
        pair_of_models m;
        const std::vector<std::vector<int32_t>> tables = {{5, 60, 2}, {33, 17}, {8, 50, 21}};
        std::vector<int> len = {0, 0, 0};
        // chunks per step: (sequence, tokens taken from toks[s] beyond len[s]; 0 = one greedy token)
        const std::vector<std::vector<std::pair<int, int>>> plan = {
            {{0, 12}, {1, 7}, {2, 20}}, {{0, 0}, {1, 0}, {2, 0}}, {{1, 0}, {0, 9}, {2, 0}}, {{2, 0}, {0, 0}, {1, 0}}};
        std::vector<int32_t> greedy = {0, 0, 0};
        for (size_t st = 0; st < plan.size(); ++st) {
            rl::step_input in;
            for (auto [s, t] : plan[st]) {
                std::vector<int32_t> chunk;
                if (t == 0) chunk = {greedy[size_t(s)]};
                else
                    for (int i = 0; i < t; ++i) chunk.push_back(prompt[size_t((len[size_t(s)] + 5 * s + i) % prompt.size())]);
                in.seqs.push_back(rl::seq_slice{in.n_tokens(), int(chunk.size()), len[size_t(s)], tables[size_t(s)]});
                for (size_t i = 0; i < chunk.size(); ++i) {
                    in.tokens.push_back(chunk[i]);
                    in.positions.push_back(len[size_t(s)] + int(i));
                }
                in.logit_rows.push_back(in.n_tokens() - 1);
                len[size_t(s)] += int(chunk.size());
            }
            const step_check r = run_both(m, in, "batched step " + std::to_string(st));
            QVERIFY2(r.error.empty(), r.error.c_str());
            QVERIFY2(r.worst < max_rel_l2, ("batched rel L2 " + std::to_string(r.worst)).c_str());
            for (size_t i = 0; i < plan[st].size(); ++i) greedy[size_t(plan[st][i].first)] = r.next[i];
        }
    }

    // Native weights (the file's q4_1 blocks decoded in registers) and bf16 weights (expanded at
    // load) must pick the same greedy tokens over a prefill and 24 decode steps; a near tie
    // (the two picks within tie_margin in the bf16 run's logits) is printed and accepted.
    void nativeAndBf16WeightsAgree() {
        GPU_OR_SKIP();
        if (!std::ifstream(RL_MODEL_PATH).good()) QFAIL("model missing: run scripts/fetch-model");
        auto file = rl::gguf_file::open(RL_MODEL_PATH);
        auto gn = rl::make_cuda_backend(0), gb = rl::make_cuda_backend(0);
        auto mn = rl::llama_model::load(*file, *gn, rl::weight_storage::native);
        auto mb = rl::llama_model::load(*file, *gb, rl::weight_storage::bf16);
        QVERIFY2(mn->block_matmuls() && !mb->block_matmuls(), "native did not keep the file's blocks");
        QVERIFY2(mn->weight_bytes() * 2 < mb->weight_bytes(), "native weights are not under half of bf16");
        std::printf("weights: native %s; bf16 %s\n", mn->weight_types().c_str(), mb->weight_types().c_str());
        gn->alloc_kv(mn->kv_layout_for(64, 16));
        gb->alloc_kv(mb->kv_layout_for(64, 16));
        const int V = mn->config().vocab_size, n = int(prompt.size());
        rl::step_input in;
        in.tokens = prompt;
        for (int i = 0; i < n; ++i) in.positions.push_back(i);
        in.seqs.push_back(rl::seq_slice{0, n, 0, {2, 9, 4}});
        in.logit_rows = {n - 1};
        int pos = n;
        for (int s = 0; s < 25; ++s) {
            std::vector<float> ln, lb;
            mn->forward(in, ln);
            mb->forward(in, lb);
            const size_t tn = argmax(ln.data(), V), tb = argmax(lb.data(), V);
            if (tn != tb) {
                const std::string msg = "step " + std::to_string(s) + ": native " + std::to_string(tn) + ", bf16 " +
                                        std::to_string(tb) + " (bf16 logits " + std::to_string(lb[tb]) + " vs " +
                                        std::to_string(lb[tn]) + ")";
                QVERIFY2(lb[tb] - lb[tn] <= tie_margin, msg.c_str());
                std::printf("WARNING: near tie accepted: %s\n", msg.c_str());
            }
            in = rl::step_input{};
            in.tokens = {int32_t(tb)};
            in.positions = {pos};
            in.seqs.push_back(rl::seq_slice{0, 1, pos, {2, 9, 4}});
            in.logit_rows = {0};
            ++pos;
        }
    }
};

RL_TEST_MAIN(TestGpuBackend, prefillThenDecodeMatchesCpu, batchedSequencesMatchCpu, nativeAndBf16WeightsAgree)
#include "test_gpu_backend.moc"
