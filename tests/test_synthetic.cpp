// Synthetic models on the CPU backend: the shapes match the published configs, the forward pass
// gives finite logits, the same seed gives the same weights, and unknown names are refused.
#include "rl_test.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "model/llama_model.h"
#include "model/synthetic.h"

#include <cmath>

class TestSynthetic : public QObject {
    Q_OBJECT
private slots:
    void shapesMatchPublishedConfigs() {
        const auto l8 = rl::synthetic_config("llama3-8b");
        QCOMPARE(l8.head_dim, 128);
        QCOMPARE(l8.kv_dim(), 1024);
        // 8.03 B parameters (embedding and LM head untied)
        QVERIFY(std::abs(double(l8.param_count()) - 8.03e9) < 0.01e9);
        const auto s = rl::synthetic_config("smollm2-135m");
        QVERIFY(s.tied_embeddings);
        QVERIFY(std::abs(double(s.param_count()) - 134.5e6) < 1e6);
        QVERIFY(rl::synthetic_config("qwen2.5-7b").qkv_bias);
        QCOMPARE(rl::synthetic_config("llama3-70b-4layers").d_model, 8192);
        bool threw = false;
        try { rl::synthetic_config("gpt5"); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("llama3-8b") != std::string::npos;
        }
        QVERIFY(threw);
    }

    void forwardIsFiniteAndSeeded() {
        rl::cpu_backend be(0);
        auto cfg = rl::synthetic_config("smollm2-135m");
        cfg.n_layers = 4;  // keep the test quick; the shapes per layer are the real ones
        auto a = rl::llama_model::synthetic(cfg, be, 7);
        be.alloc_kv(a->kv_layout_for(4, 16));
        rl::step_input in;
        in.seqs.push_back({0, 5, 0, {0}});
        for (int i = 0; i < 5; ++i) {
            in.tokens.push_back(100 + i);
            in.positions.push_back(i);
        }
        in.logit_rows = {4};
        std::vector<float> la, lb;
        a->forward(in, la);
        QCOMPARE(int(la.size()), cfg.vocab_size);
        for (float x : la) QVERIFY(std::isfinite(x));
        a.reset();
        auto b = rl::llama_model::synthetic(cfg, be, 7);
        b->forward(in, lb);
        QCOMPARE(la, lb);
    }
};

RL_TEST_MAIN(TestSynthetic, shapesMatchPublishedConfigs, forwardIsFiniteAndSeeded)
#include "test_synthetic.moc"
