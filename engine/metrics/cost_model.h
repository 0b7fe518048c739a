// cost_model: FLOPs and bytes moved by one engine step, from the model shape and the batch.
// Pure and header-only so the same numbers serve the plots, the benchmarks and the tests
// (tests/test_cost_model.cpp checks it against hand calculations; docs/metrics.md states it).
//
//   FLOPs = 2 * matmul_params * tokens            (every token passes every layer's weights; with
//                                                  experts, the router and its n_used experts)
//         + 2 * d_model * vocab * logit_rows      (LM head, only rows whose logits are used)
//         + 4 * n_heads * head_dim * ctx_i        (QK^T and PV, per token i at context ctx_i, per layer)
//   Bytes = weight bytes (read once per step, as stored: block formats at their real size; past
//           the GEMV's rows a block-format weight is also expanded to bf16, +4 bytes a weight)
//         + KV read: each sequence's whole context, once per layer (K and V)
//         + KV written: every new token, once per layer (K and V)
//         + activations: per token per layer, the hidden state and intermediates read and written
//         + GEMM re-reads (GPU only, large steps): see gemm_streaming
//   Mixture of experts: a step reads the union of the experts its tokens chose, per layer, so
//   expert bytes = expert_bytes * experts_read / (n_layers * n_experts), experts_read as the
//   backend counted it, or, where it cannot, its expectation under uniform routing,
//   n_layers * E * (1 - (1 - k/E)^tokens). Bandwidth per token falls as the batch grows.
#pragma once
#include "model/model_config.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace rl {

struct step_shape_seq {
    int n_tokens = 0;     // tokens computed this step
    int start_pos = 0;    // tokens already in the cache before them
    bool logits = true;   // this sequence's last token produces logits
};

/// How a tiled GEMM library on a GPU streams operands that do not stay in L2 (cuBLASLt on Hopper,
/// measured per GEMM with Nsight Compute, docs/metrics.md). Output tiles run in waves of one CTA
/// per SM; a wave covers a super-tile of wave_rows tokens x wave_cols output features and reads
/// that super-tile's panels of the input and of the weights, and nothing survives from one wave
/// to the next (the weights stream far past L2). So a product of M tokens and N features that
/// needs more than one wave and more than one panel of tokens reads its weights
/// ceil(M / wave_rows) times and its input ceil(N / wave_cols) times instead of once. Decode
/// (M below wave_rows) is unaffected. sms = 0
/// (the CPU backend) turns the term off. The wave of 8 x 16 tiles of 128 x 256 (128 tiles, one
/// per SM of 132) is what the H200's counters show for prefill's q, o, gate, up and down.
struct gemm_streaming {
    int sms = 0;
    double tile_rows = 128, tile_cols = 256;
    double wave_rows = 1024, wave_cols = 4096;

    /// Bytes read beyond once-each for x [m, k] . w [n, k]^T.
    double reread_bytes(double m, double n, double k, double w_elem, double x_elem) const {
        if (sms <= 0 || m <= 0 || n <= 0) return 0;
        const double tiles = std::ceil(m / tile_rows) * std::ceil(n / tile_cols);
        if (tiles <= sms) return 0;  // one wave: every panel read once
        // With one panel of tokens (m <= wave_rows, every decode step) every wave reads the same
        // input rows, which stay in L2; the input is re-read only when waves alternate panels.
        const double token_panels = std::ceil(m / wave_rows);
        if (token_panels <= 1) return 0;
        return (token_panels - 1) * n * k * w_elem + (std::ceil(n / wave_cols) - 1) * m * k * x_elem;
    }
};

struct step_cost {
    double flops = 0;
    double weight_bytes = 0;
    double kv_read_bytes = 0;
    double kv_write_bytes = 0;
    double activation_bytes = 0;
    double gemm_reread_bytes = 0;
    double bytes() const { return weight_bytes + kv_read_bytes + kv_write_bytes + activation_bytes + gemm_reread_bytes; }
    double arithmetic_intensity() const { return bytes() > 0 ? flops / bytes() : 0; }
};

struct cost_model {
    model_config cfg;
    double weight_elem_bytes = 2;   // as stored on the backend: 4 (fp32 CPU), 2 (bf16 GPU)
    double kv_elem_bytes = 2;
    double act_elem_bytes = 2;
    gemm_streaming gemm;            // off unless the backend is a GPU (set sms)
    /// The matmul weights' bytes as stored, experts excepted (llama_model::matmul_weight_bytes:
    /// block formats count their real bytes, 4.5 bits a q4_k weight); 0 = every weight at
    /// weight_elem_bytes.
    double matmul_weight_bytes = 0;
    /// Every layer's stacked experts as stored (llama_model::expert_weight_bytes); 0 = at
    /// weight_elem_bytes.
    double expert_bytes = 0;
    /// Block-format weights: products of more rows than this (backend::block_weights_expand_above)
    /// dequantize their weight into a bf16 scratch first, which writes and then reads 2 bytes per
    /// weight more. 0 = none.
    int blocks_expand_above = 0;

    /// The model as a backend runs it: weights, KV and activations in its compute dtype of
    /// elem_bytes, and the tiled-GEMM re-reads on a GPU (device_kind "cuda", one wave per SM).
    static cost_model on_device(const model_config& c, double elem_bytes, const std::string& device_kind,
                                int compute_units) {
        cost_model m{c, elem_bytes, elem_bytes, elem_bytes, gemm_streaming{}};
        if (device_kind == "cuda") m.gemm.sms = compute_units;
        return m;
    }

    /// Parameters each token passes through in a layer: q, k, v, o, then gate, up, down (with
    /// experts: the router and n_used experts' gate, up, down).
    double layer_matmul_params() const { return attention_params() + ffn_params_per_token(); }
    /// q, k, v, o of one layer.
    double attention_params() const {
        const double d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim();
        return d * q + 2 * d * kv + q * d;
    }
    double ffn_params_per_token() const {
        if (!cfg.is_moe()) return 3.0 * cfg.d_model * cfg.d_ff;
        return double(cfg.d_model) * cfg.n_experts + expert_params() * cfg.n_experts_used;
    }
    /// The FFN width a token's activations pass through (n_used experts' together).
    double ffn_width_per_token() const {
        return cfg.is_moe() ? double(cfg.d_ff_expert) * cfg.n_experts_used : double(cfg.d_ff);
    }
    /// Parameters of one expert (gate, up, down) and of all of them over all layers.
    double expert_params() const { return 3.0 * cfg.d_model * cfg.d_ff_expert; }
    double all_expert_params() const { return cfg.is_moe() ? expert_params() * cfg.n_experts * cfg.n_layers : 0; }
    /// Parameters read once per step whatever the routing: attention, router, dense FFN, LM head.
    double dense_matmul_params() const {
        const double ffn = cfg.is_moe() ? double(cfg.d_model) * cfg.n_experts : 3.0 * cfg.d_model * cfg.d_ff;
        return cfg.n_layers * (attention_params() + ffn) + lm_head_params();
    }
    /// (layer, expert) pairs a step of `tokens` reads on average when each token picks n_used of
    /// E experts uniformly: E * (1 - (1 - k/E)^tokens) per layer.
    double expected_experts_read(double tokens) const {
        if (!cfg.is_moe() || tokens <= 0) return 0;
        const double E = cfg.n_experts, k = cfg.n_experts_used;
        return cfg.n_layers * E * (1 - std::pow(1 - k / E, tokens));
    }
    double lm_head_params() const { return double(cfg.d_model) * cfg.vocab_size; }
    /// Bytes of weights read by one step: all layers, norms, the LM head, and of the experts
    /// those read (experts_read (layer, expert) pairs; see the header). The embedding gather is
    /// counted per token under activations, as only the used rows are read.
    double weight_bytes_per_step(double experts_read = 0) const {
        const double norms = double(cfg.n_layers) * 2 * cfg.d_model + cfg.d_model;
        const double bias = cfg.qkv_bias ? double(cfg.n_layers) * (cfg.q_dim() + 2 * cfg.kv_dim()) : 0;
        const double matmuls = matmul_weight_bytes > 0 ? matmul_weight_bytes : dense_matmul_params() * weight_elem_bytes;
        double experts = 0;
        if (cfg.is_moe()) {
            const double all = expert_bytes > 0 ? expert_bytes : all_expert_params() * weight_elem_bytes;
            experts = all * experts_read / (double(cfg.n_layers) * cfg.n_experts);
        }
        return matmuls + experts + (norms + bias) * 4.0;
    }
    /// Activation elements read + written per token per layer (residual, norm, q/k/v, attention
    /// output, projection, gate/up/act, down) — an estimate, documented in docs/metrics.md.
    double activation_elems_per_token_layer() const {
        const double d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = ffn_width_per_token();
        return 2 * (4 * d + q + 2 * kv + q + 3 * ff + (cfg.is_moe() ? cfg.n_experts : 0));
    }

    /// experts_read: the (layer, expert) pairs the step's routing chose (summed over layers), as
    /// the backend counted them; < 0 = not counted, take expected_experts_read.
    step_cost cost(const std::vector<step_shape_seq>& seqs, double experts_read = -1) const {
        step_cost c;
        double tokens = 0, logit_rows = 0, attn_flops_per_layer = 0, ctx_read = 0;
        for (const auto& s : seqs) {
            tokens += s.n_tokens;
            logit_rows += s.logits ? 1 : 0;
            // sum over new tokens of their context length: positions start_pos+1 .. start_pos+n
            const double n = s.n_tokens, p0 = s.start_pos;
            attn_flops_per_layer += 4.0 * cfg.n_heads * cfg.head_dim * (n * p0 + n * (n + 1) / 2);
            ctx_read += p0 + n;
        }
        if (tokens == 0) return c;
        c.flops = 2 * cfg.n_layers * layer_matmul_params() * tokens + 2 * lm_head_params() * logit_rows +
                  cfg.n_layers * attn_flops_per_layer;
        if (experts_read < 0) experts_read = expected_experts_read(tokens);
        c.weight_bytes = weight_bytes_per_step(experts_read);
        const bool expand_layers = blocks_expand_above > 0 && tokens > blocks_expand_above;
        const bool expand_head = blocks_expand_above > 0 && logit_rows > blocks_expand_above;
        if (expand_layers)
            c.weight_bytes += 4.0 * (dense_matmul_params() - lm_head_params() + expert_params() * experts_read);
        if (expand_head) c.weight_bytes += 4.0 * lm_head_params();
        c.kv_read_bytes = 2.0 * cfg.n_layers * cfg.kv_dim() * ctx_read * kv_elem_bytes;
        c.kv_write_bytes = 2.0 * cfg.n_layers * cfg.kv_dim() * tokens * kv_elem_bytes;
        // The tiled GEMM re-reads what it is given: the bf16 scratch when block formats expand.
        // Experts' GEMMs see a share of the tokens each; their re-reads are not modelled.
        const double d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = cfg.is_moe() ? 0.0 : cfg.d_ff,
                     we = expand_layers ? 2.0 : weight_elem_bytes, xe = act_elem_bytes;
        const double per_layer = gemm.reread_bytes(tokens, q, d, we, xe) + 2 * gemm.reread_bytes(tokens, kv, d, we, xe) +
                                 gemm.reread_bytes(tokens, d, q, we, xe) + 2 * gemm.reread_bytes(tokens, ff, d, we, xe) +
                                 gemm.reread_bytes(tokens, d, ff, we, xe);
        c.gemm_reread_bytes = cfg.n_layers * per_layer +
                              gemm.reread_bytes(logit_rows, cfg.vocab_size, d, expand_head ? 2.0 : weight_elem_bytes, xe);
        c.activation_bytes = (cfg.n_layers * activation_elems_per_token_layer() * tokens +
                              cfg.d_model * tokens /* embedding rows */ + cfg.vocab_size * logit_rows) *
                             act_elem_bytes;
        return c;
    }
};

} // namespace rl
