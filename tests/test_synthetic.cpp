// Synthetic models on the CPU backend: the shapes match the published configs, the forward pass
// gives finite logits, the same seed gives the same weights, and unknown names are refused.
#include "rl_test.h"

#include <algorithm>

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

    // The :QUANT suffix: parsed and checked, llama.cpp's Q4_K_M mix (q6_k for the output and for
    // attn_v / ffn_down in the first and last eighth and every third layer between), and the CPU
    // backend keeping them as blocks.
    void quantSuffixAndMix() {
        QCOMPARE(rl::synthetic_quant("llama3-8b"), std::string());
        QCOMPARE(rl::synthetic_quant("llama3-8b:q4_k_m"), std::string("q4_k_m"));
        QCOMPARE(rl::synthetic_config("llama3-70b:q4_k_m").n_layers, 80);
        QCOMPARE(rl::synthetic_config("llama3-8b:q8_0").name, std::string("synthetic:llama3-8b:q8_0"));
        bool threw = false;
        try { rl::synthetic_config("llama3-8b:q3_k"); } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("q4_k_m") != std::string::npos;
        }
        QVERIFY2(threw, "an unknown quantization was not refused with the known ones listed");
        using rl::dtype;
        const int L = 32;  // more bits: layers 0-3, 28-31, and 4 + 3i + 2 (6, 9, ..., 27)
        int q6 = 0;
        for (int i = 0; i < L; ++i) q6 += rl::synthetic_weight_dtype("q4_k_m", "ffn_down", i, L) == dtype::q6_k;
        QCOMPARE(q6, 4 + 4 + 8);
        QVERIFY(rl::synthetic_weight_dtype("q4_k_m", "attn_v", 0, L) == dtype::q6_k);
        QVERIFY(rl::synthetic_weight_dtype("q4_k_m", "attn_v", 4, L) == dtype::q4_k);
        QVERIFY(rl::synthetic_weight_dtype("q4_k_m", "attn_q", 0, L) == dtype::q4_k);
        QVERIFY(rl::synthetic_weight_dtype("q5_k_m", "output", 0, L) == dtype::q6_k);
        QVERIFY(rl::synthetic_weight_dtype("q8_0", "output", 0, L) == dtype::q8_0);
        // The CPU backend keeps block weights too: a q8_0 synthetic model runs there natively.
        rl::cpu_backend be(1);
        auto m = rl::llama_model::synthetic_named("smollm2-135m:q8_0", be, rl::weight_storage::automatic);
        QVERIFY(m->block_matmuls());
        QVERIFY(m->weight_types().find("q8_0") != std::string::npos);
    }

    // --weights auto: expanded while 3/4 of free memory holds it, the blocks beyond; unknown = fits.
    void autoStorageResolves() {
        using rl::weight_storage;
        QVERIFY(rl::resolve_weight_storage(weight_storage::automatic, rl::dtype::bf16, 75, 100) == weight_storage::bf16);
        QVERIFY(rl::resolve_weight_storage(weight_storage::automatic, rl::dtype::bf16, 76, 100) == weight_storage::native);
        QVERIFY(rl::resolve_weight_storage(weight_storage::automatic, rl::dtype::f32, 10, 0) == weight_storage::f32);
        QVERIFY(rl::resolve_weight_storage(weight_storage::native, rl::dtype::bf16, 1, 100) == weight_storage::native);
        weight_storage w{};
        QVERIFY(rl::parse_weight_storage("auto", w) && w == weight_storage::automatic);
        QVERIFY(!rl::parse_weight_storage("int4", w));
    }

    // The newer families' presets: their published shapes, and each one's layer (q/k norms,
    // GeGLU and post norms with interleaved windows, experts) runs on the CPU at a shrunk width.
    void newFamilies() {
        const auto moe = rl::synthetic_config("qwen3-30b-a3b");
        QVERIFY(moe.is_moe() && moe.n_experts == 128 && moe.n_experts_used == 8 && moe.q_dim() == 4096);
        const auto ge = rl::synthetic_config("gemma3-12b");
        QVERIFY(ge.windowed(0) && !ge.windowed(5) && ge.sliding_window == 1024 && ge.tied_embeddings);
        QCOMPARE(rl::synthetic_config("phi4-14b").n_kv_heads, 10);
        QVERIFY(rl::synthetic_config("mixtral-8x7b-4layers").is_moe());
        for (const char* name : {"qwen3-8b", "qwen3-30b-a3b", "gemma3-12b", "phi4-14b", "mixtral-8x7b-4layers"}) {
            auto cfg = rl::synthetic_config(name);
            cfg.n_layers = std::min(cfg.n_layers, 6);
            cfg.d_model = 64, cfg.n_heads = 4, cfg.n_kv_heads = 2, cfg.head_dim = cfg.rope_dim = 16;
            cfg.d_ff = 96, cfg.vocab_size = 300, cfg.sliding_window = std::min(cfg.sliding_window, 3);
            if (cfg.is_moe()) cfg.n_experts = 8, cfg.n_experts_used = 2, cfg.d_ff_expert = 32;
            rl::cpu_backend be(0);
            auto m = rl::llama_model::synthetic(cfg, be, 3);
            be.alloc_kv(m->kv_layout_for(4, 16));
            rl::step_input in;
            in.seqs.push_back({0, 9, 0, {0}});
            for (int i = 0; i < 9; ++i) {
                in.tokens.push_back(10 + 7 * i);
                in.positions.push_back(i);
            }
            in.logit_rows = {8};
            std::vector<float> l;
            m->forward(in, l);
            QCOMPARE(int(l.size()), cfg.vocab_size);
            for (float x : l) QVERIFY2(std::isfinite(x), (std::string(name) + " gave a non-finite logit").c_str());
        }
    }
};

RL_TEST_MAIN(TestSynthetic, shapesMatchPublishedConfigs, forwardIsFiniteAndSeeded, quantSuffixAndMix, autoStorageResolves,
             newFamilies)
#include "test_synthetic.moc"
