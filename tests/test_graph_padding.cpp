// Decode batches padded to capture sizes (backend::graph_rows, llama_model::pad_step): the size
// rule, and that a padded step gives the real rows the logits an unpadded step gives, leaves the
// real sequences' KV alone (the next step agrees too), and refuses a pool with no spare block.
// The CPU backend records nothing; a subclass asks for padding as the CUDA backend does.
#include "rl_test.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "model/llama_model.h"
#include "model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

namespace {

// Pads like the CUDA backend and remembers the row counts of the steps it was given.
class padding_cpu final : public rl::cpu_backend {
public:
    int graph_rows(int n) const override { return rl::graph_capture_rows(n, 256); }
    void set_step(const rl::step_input& in) override {
        rows_seen.push_back(in.n_tokens());
        rl::cpu_backend::set_step(in);
    }
    std::vector<int> rows_seen;
};

rl::model_config small_config() {
    auto cfg = rl::synthetic_config("smollm2-135m");
    cfg.n_layers = 2;
    cfg.d_model = 64, cfg.n_heads = 4, cfg.n_kv_heads = 2, cfg.head_dim = cfg.rope_dim = 16;
    cfg.d_ff = 96, cfg.vocab_size = 300;
    return cfg;
}

// n sequences of different lengths prefilled, then `decodes` decode steps; the logits of each
// decode step. Sequence s owns blocks 2s and 2s+1 of a pool of kv_layout_for(16).
std::vector<std::vector<float>> run(rl::backend& be, int n, int decodes) {
    auto m = rl::llama_model::synthetic(small_config(), be, 11);
    be.alloc_kv(m->kv_layout_for(16, 16));
    std::vector<int> len(size_t(n), 0);
    rl::step_input pre;
    for (int s = 0; s < n; ++s) {
        const int l = 3 + 2 * s;
        pre.seqs.push_back({pre.n_tokens(), l, 0, {2 * s, 2 * s + 1}});
        for (int i = 0; i < l; ++i) {
            pre.tokens.push_back(5 + 13 * s + 3 * i);
            pre.positions.push_back(i);
        }
        pre.logit_rows.push_back(pre.n_tokens() - 1);
        len[size_t(s)] = l;
    }
    std::vector<float> logits;
    m->forward(pre, logits);
    std::vector<std::vector<float>> out;
    for (int d = 0; d < decodes; ++d) {
        rl::step_input st;
        for (int s = 0; s < n; ++s) {
            st.seqs.push_back({s, 1, len[size_t(s)], {2 * s, 2 * s + 1}});
            st.tokens.push_back(40 + 7 * s + d);
            st.positions.push_back(len[size_t(s)]++);
            st.logit_rows.push_back(s);
        }
        m->forward(st, logits);
        out.push_back(logits);
    }
    return out;
}

} // namespace

class TestGraphPadding : public QObject {
    Q_OBJECT
private slots:
    void captureSizes() {
        QCOMPARE(rl::graph_capture_rows(0, 256), 0);
        QCOMPARE(rl::graph_capture_rows(1, 256), 1);
        QCOMPARE(rl::graph_capture_rows(3, 256), 4);
        QCOMPARE(rl::graph_capture_rows(5, 256), 8);
        QCOMPARE(rl::graph_capture_rows(64, 256), 64);
        QCOMPARE(rl::graph_capture_rows(65, 256), 72);
        QCOMPARE(rl::graph_capture_rows(129, 256), 144);
        QCOMPARE(rl::graph_capture_rows(257, 512), 288);
        QCOMPARE(rl::graph_capture_rows(257, 256), 0);  // above the largest: eager
        QCOMPARE(rl::graph_capture_rows(6, 4), 0);
        std::set<int> sizes;
        int prev = 0;
        for (int n = 1; n <= 256; ++n) {
            const int r = rl::graph_capture_rows(n, 256);
            QVERIFY2(r >= n && r >= prev, ("rows " + std::to_string(n) + " -> " + std::to_string(r)).c_str());
            QVERIFY(r - n < (n <= 128 ? 8 : 16));  // at most a step of padding rows
            sizes.insert(r);
            prev = r;
        }
        QCOMPARE(int(sizes.size()), 27);  // the recordings a batch wandering over 1..256 can need
    }

    void paddedDecodeMatchesUnpadded() {
        for (int n : {3, 5}) {
            rl::cpu_backend plain(1);
            padding_cpu padded;
            const auto a = run(plain, n, 3);
            const auto b = run(padded, n, 3);
            // The decode steps were padded (prefill never is).
            const int want = rl::graph_capture_rows(n, 256);
            QCOMPARE(int(padded.rows_seen.size()), 4);
            for (size_t i = 1; i < padded.rows_seen.size(); ++i) QCOMPARE(padded.rows_seen[i], want);
            QVERIFY(padded.rows_seen[0] != want);
            for (size_t d = 0; d < a.size(); ++d) {
                QCOMPARE(b[d].size(), a[d].size());  // the padding rows' logits stay behind
                float scale = 0, diff = 0;
                for (size_t i = 0; i < a[d].size(); ++i) {
                    scale = std::max(scale, std::abs(a[d][i]));
                    diff = std::max(diff, std::abs(a[d][i] - b[d][i]));
                }
                QVERIFY(scale > 0);
                QVERIFY2(diff <= 1e-4f * scale, ("step " + std::to_string(d) + " of " + std::to_string(n) +
                                                  " rows differs by " + std::to_string(diff)).c_str());
            }
        }
    }

    // A one-token step where a row wants no logits (a prefill chunk of one token) runs as it
    // is: recording it would make a (rows, logit rows) shape for every split.
    void stepWithoutEveryLogitIsNotPadded() {
        padding_cpu be;
        auto m = rl::llama_model::synthetic(small_config(), be, 11);
        be.alloc_kv(m->kv_layout_for(4, 16));
        rl::step_input st;
        for (int s = 0; s < 3; ++s) {
            st.seqs.push_back({s, 1, 0, {s}});
            st.tokens.push_back(7 + s);
            st.positions.push_back(0);
        }
        st.logit_rows = {0, 2};
        std::vector<float> logits;
        m->forward(st, logits);
        QCOMPARE(be.rows_seen.back(), 3);
        QCOMPARE(int(logits.size()), 2 * small_config().vocab_size);
    }

    void poolWithoutSpareBlockIsRefused() {
        padding_cpu be;
        auto m = rl::llama_model::synthetic(small_config(), be, 11);
        be.alloc_kv(m->kv_layout_for(2, 16));  // blocks 0, 1 and the padding block 2
        rl::step_input st;
        st.seqs.push_back({0, 1, 0, {0}});
        st.seqs.push_back({1, 1, 0, {2}});  // uses the padding block
        st.seqs.push_back({2, 1, 0, {1}});
        st.tokens = {1, 2, 3};
        st.positions = {0, 0, 0};
        st.logit_rows = {0, 1, 2};
        std::vector<float> logits;
        std::string msg;
        try {
            m->forward(st, logits);
        } catch (const rl::engine_error& e) {
            msg = e.what();
        }
        QVERIFY2(msg.find("padding block") != std::string::npos, msg.c_str());
    }
};

RL_TEST_MAIN(TestGraphPadding, captureSizes, paddedDecodeMatchesUnpadded, stepWithoutEveryLogitIsNotPadded,
             poolWithoutSpareBlockIsRefused)
#include "test_graph_padding.moc"
