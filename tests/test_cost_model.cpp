// cost_model against hand calculations for the SmolLM2-135M and Llama-3-8B shapes.
// The arithmetic is written out in the comments so a reader can redo it.
#include "rl_test.h"

#include "metrics/cost_model.h"

#include <cmath>

namespace {

rl::model_config smollm2() {
    rl::model_config c;
    c.n_layers = 30; c.d_model = 576; c.n_heads = 9; c.n_kv_heads = 3; c.head_dim = 64;
    c.d_ff = 1536; c.vocab_size = 49152;
    return c;
}

rl::model_config llama3_8b() {
    rl::model_config c;
    c.n_layers = 32; c.d_model = 4096; c.n_heads = 32; c.n_kv_heads = 8; c.head_dim = 128;
    c.d_ff = 14336; c.vocab_size = 128256;
    return c;
}

// Qwen3-30B-A3B: 48 layers, d 2048, 32 q heads and 4 KV heads of 128, 128 experts of 768, 8 used.
rl::model_config qwen3_30b_a3b() {
    rl::model_config c;
    c.n_layers = 48; c.d_model = 2048; c.n_heads = 32; c.n_kv_heads = 4; c.head_dim = 128;
    c.d_ff = 6144; c.vocab_size = 151936;
    c.n_experts = 128; c.n_experts_used = 8; c.d_ff_expert = 768;
    return c;
}

} // namespace

class TestCostModel : public QObject {
    Q_OBJECT
private slots:
    void smollm2DecodeByHand() {
        rl::cost_model m{smollm2(), 4, 4, 4};
        // per layer: q 576*576 + k,v 2*576*192 + o 576*576 + gate,up,down 3*576*1536 = 3,538,944
        QCOMPARE(m.layer_matmul_params(), 3538944.0);
        // one decode token at context 100 (99 cached):
        //   2*30*3,538,944 = 212,336,640;  LM head 2*576*49152 = 56,623,104;
        //   attention 30 layers * 4*9*64 * 100 = 6,912,000  => 275,871,744
        const auto c = m.cost({{1, 99, true}});
        QCOMPARE(c.flops, 275871744.0);
        // weights fp32: (30*3,538,944 + 28,311,552) * 4 = 537,919,488; norms (30*2*576 + 576)*4 = 140,544
        QCOMPARE(c.weight_bytes, 537919488.0 + 140544.0);
        // KV read: 2 (K,V) * 30 * 192 * 100 tokens * 4 B = 4,608,000; written: 2*30*192*1*4 = 46,080
        QCOMPARE(c.kv_read_bytes, 4608000.0);
        QCOMPARE(c.kv_write_bytes, 46080.0);
    }

    void llama3PrefillByHand() {
        rl::cost_model m{llama3_8b(), 2, 2, 2};
        // per layer: 2*4096*4096 + 2*4096*1024 + 3*4096*14336 = 218,103,808
        QCOMPARE(m.layer_matmul_params(), 218103808.0);
        // bf16 weights per step: (32*218,103,808 + 4096*128,256) * 2 = 15,009,316,864
        //   + norms (32*2*4096 + 4096) * 4 B = 1,064,960
        QCOMPARE(m.weight_bytes_per_step(), 15009316864.0 + 1064960.0);
        // prefill of 2048 tokens from empty, logits for the last row only:
        //   matmuls 2*32*218,103,808*2048 = 28,587,302,322,176
        //   LM head 2*4096*128,256 = 1,050,673,152
        //   attention 32 * 4*32*128 * (2048*2049/2) = 32 * 16384 * 2,098,176 = 1,100,048,498,688
        const auto c = m.cost({{2048, 0, true}});
        QCOMPARE(c.flops, 28587302322176.0 + 1050673152.0 + 1100048498688.0);
        // Arithmetic intensity of a 2048-token prefill is far above the H100 ridge (~295 FLOP/B bf16).
        QVERIFY(c.arithmetic_intensity() > 295);
    }

    // The GPU's tiled-GEMM re-reads (gemm_streaming), by hand for a 2048-token Llama-3-8B prefill
    // on 132 SMs: tokens span 2 panels of 1024, so every product of more than one wave reads its
    // weights twice; inputs are re-read once per extra 4096-feature panel.
    //   q, o (4096 x 4096; 16 x 16 = 256 tiles): + W 33,554,432 each
    //   k, v (1024 x 4096; 16 x 4 = 64 tiles, one wave): nothing
    //   gate, up (14336 x 4096): + W 117,440,512 + input 3 x 2048 x 4096 x 2 = 50,331,648, each
    //   down (4096 x 14336): + W 117,440,512
    //   per layer 2*33,554,432 + 2*(117,440,512 + 50,331,648) + 117,440,512 = 520,093,696
    // The LM head (one logit row) and every decode step add nothing.
    void gemmRereadsByHand() {
        rl::cost_model m{llama3_8b(), 2, 2, 2};
        const auto off = m.cost({{2048, 0, true}});
        QCOMPARE(off.gemm_reread_bytes, 0.0);  // sms = 0: CPU backends
        m.gemm.sms = 132;
        const auto on = m.cost({{2048, 0, true}});
        QCOMPARE(on.gemm_reread_bytes, 32 * 520093696.0);
        QCOMPARE(on.bytes(), off.bytes() + 32 * 520093696.0);
        QCOMPARE(on.flops, off.flops);
        std::vector<rl::step_shape_seq> decode(64, {1, 255, true});
        QCOMPARE(m.cost(decode).gemm_reread_bytes, 0.0);
        QCOMPARE(m.cost({{1024, 0, true}}).gemm_reread_bytes, 0.0);  // one panel of tokens
    }

    void decodeIntensityGrowsWithBatch() {
        rl::cost_model m{llama3_8b(), 2, 2, 2};
        const auto one = m.cost({{1, 255, true}});
        std::vector<rl::step_shape_seq> batch(64, {1, 255, true});
        const auto b64 = m.cost(batch);
        // batch 1 decode: ~2 FLOPs per weight byte... intensity about 1 FLOP/B; batch 64 ~ 50x more.
        QVERIFY(one.arithmetic_intensity() < 2);
        QVERIFY(b64.arithmetic_intensity() > 30 * one.arithmetic_intensity());
        QCOMPARE(b64.weight_bytes, one.weight_bytes);  // weights are read once per step, not per sequence
        QCOMPARE(m.cost({}).flops, 0.0);
    }

    // Native block-format weights count their stored bytes; past 8 rows the bf16 expansion adds
    // 4 bytes per weight (written to the scratch, read by the GEMM), and the GEMV rows do not.
    void blockWeightsCountStoredBytes() {
        rl::cost_model m{llama3_8b(), 2, 2, 2};
        // q4_k throughout: 144 bytes per 256 weights, (32*218,103,808 + 525,336,576) * 144/256
        const double params = 32 * 218103808.0 + 4096.0 * 128256;
        m.matmul_weight_bytes = params * 144 / 256;
        m.blocks_expand_above = 8;
        const double norms = 1064960.0;
        QCOMPARE(m.weight_bytes_per_step(), params * 144 / 256 + norms);
        std::vector<rl::step_shape_seq> b8(8, rl::step_shape_seq{1, 100, true});
        QCOMPARE(m.cost(b8).weight_bytes, params * 144 / 256 + norms);  // the GEMV: read once, as stored
        std::vector<rl::step_shape_seq> b9(9, rl::step_shape_seq{1, 100, true});
        QCOMPARE(m.cost(b9).weight_bytes, params * 144 / 256 + norms + 4 * params);
        // One 2048-token prefill with one logit row: the layers expand, the LM head (1 row) does not.
        QCOMPARE(m.cost({{2048, 0, true}}).weight_bytes, params * 144 / 256 + norms + 4 * 32 * 218103808.0);
        // A q4_k decode step at batch 1 moves 3.56x fewer weight bytes than bf16.
        rl::cost_model bf{llama3_8b(), 2, 2, 2};
        const double ratio = bf.cost({{1, 100, true}}).weight_bytes / m.cost({{1, 100, true}}).weight_bytes;
        QVERIFY2(ratio > 3.5 && ratio < 3.6, std::to_string(ratio).c_str());
    }

    // A mixture-of-experts step reads the attention, the router and the union of the experts its
    // tokens chose; each token computes with n_used of them.
    void moeCountsTheExpertsRead() {
        rl::cost_model m{qwen3_30b_a3b(), 2, 2, 2};
        // attention per layer: q 2048*4096 + k,v 2*2048*512 + o 4096*2048 = 18,874,368;
        // router 2048*128 = 262,144; 8 experts of 3*2048*768 = 4,718,592 each: 37,748,736
        QCOMPARE(m.layer_matmul_params(), 18874368.0 + 262144.0 + 37748736.0);
        QCOMPARE(m.expert_params(), 4718592.0);
        const double dense = 48 * (18874368.0 + 262144.0) + 2048.0 * 151936;
        QCOMPARE(m.dense_matmul_params(), dense);
        const double norms = 48 * 2 * 2048.0 * 4 + 2048.0 * 4;
        // Counted by the backend: 48 layers x 8 experts at batch 1, all 128 of each layer at most.
        QCOMPARE(m.cost({{1, 100, true}}, 48 * 8).weight_bytes, 2 * (dense + 48 * 8 * 4718592.0) + norms);
        std::vector<rl::step_shape_seq> b64(64, rl::step_shape_seq{1, 100, true});
        QCOMPARE(m.cost(b64, 48 * 128).weight_bytes, 2 * (dense + 48 * 128 * 4718592.0) + norms);
        // FLOPs do not depend on the routing: 2 x params a token (+ attention, LM head).
        QCOMPARE(m.cost(b64, 48 * 128).flops, m.cost(b64, 48 * 40).flops);
        // Not counted: the expectation under uniform routing, 128 * (1 - (1 - 8/128)^n) a layer.
        QCOMPARE(m.expected_experts_read(1), 48 * 8.0);
        QVERIFY(std::abs(m.expected_experts_read(64) - 48 * 128 * (1 - std::pow(120.0 / 128, 64))) < 1e-6);
        QCOMPARE(m.cost({{1, 100, true}}).weight_bytes, m.cost({{1, 100, true}}, 48 * 8).weight_bytes);
        // So weight bytes per token fall as the batch grows, but far more slowly than a dense
        // model's 1/batch: 6.08 GB at batch 1, 59.5 GB / 64 = 0.93 GB a token at 64 (6.5x).
        const double per_token_1 = m.cost({{1, 100, true}}).weight_bytes;
        const double per_token_64 = m.cost(b64).weight_bytes / 64;
        QVERIFY(per_token_64 < per_token_1 / 6 && per_token_64 > per_token_1 / 7);
        QVERIFY(m.cost(b64).weight_bytes > 5 * per_token_1);   // 64 tokens touch ~98 % of the experts
        // Stored bytes (q4_k experts) scale the same way.
        m.expert_bytes = 48 * 128 * 4718592.0 * 144 / 256;
        QCOMPARE(m.weight_bytes_per_step(48 * 8), 2 * dense + 48 * 8 * 4718592.0 * 144 / 256 + norms);
    }
};

RL_TEST_MAIN(TestCostModel, smollm2DecodeByHand, llama3PrefillByHand, gemmRereadsByHand, decodeIntensityGrowsWithBatch,
             blockWeightsCountStoredBytes, moeCountsTheExpertsRead)
#include "test_cost_model.moc"
