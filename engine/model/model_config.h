// model_config: the hyper-parameters of a llama-family model, read from GGUF metadata
// (architectures llama (Mistral and Mixtral too), qwen2, qwen3, qwen3moe, gemma3, phi3) with
// llama.cpp's keys and defaults, or built for a synthetic shape.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace rl {

class gguf_file;

enum class rope_scaling_type { none, linear, llama3 };
enum class ffn_activation { silu, gelu_tanh };  // the gate's activation in the GLU

struct model_config {
    std::string arch;            // general.architecture: llama, qwen2, qwen3, qwen3moe, gemma3, phi3
    std::string name;            // general.name, or the synthetic preset
    int n_layers = 0;
    int d_model = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;            // d_model / n_heads unless the file says otherwise
    int d_ff = 0;
    int vocab_size = 0;
    int context_length = 0;
    float norm_eps = 1e-5f;
    float rope_theta = 10000.f;
    int rope_dim = 0;            // rotated dims per head (== head_dim for these models)
    bool rope_neox = false;      // false: adjacent pairs (llama GGUFs are permuted for this); true: halves (qwen2)
    rope_scaling_type rope_scaling = rope_scaling_type::none;
    float rope_factor = 1.f;
    float rope_low_freq_factor = 1.f;
    float rope_high_freq_factor = 4.f;
    int rope_original_context = 8192;
    std::vector<float> rope_freq_factors;  // [rope_dim/2] divisors from a rope_freqs.weight tensor, or empty
    bool qkv_bias = false;       // qwen2
    bool tied_embeddings = false;  // no output.weight: the LM head is token_embd
    // --- family features (all off for llama/qwen2) ---
    bool qk_norm = false;        // per-head RMSNorm of q and k before RoPE (qwen3, qwen3moe, gemma3)
    bool post_norms = false;     // RMSNorm of the attention and FFN outputs before each residual add (gemma3)
    ffn_activation act = ffn_activation::silu;  // gelu_tanh: gemma3
    float embed_scale = 1.f;     // the embedding rows are multiplied by this (gemma3: sqrt(d_model))
    float attn_scale = 0.f;      // softmax scale of q . k; set by from_gguf (1/sqrt(head_dim) unless the family differs)
    // mixture of experts (n_experts == 0: a dense FFN of d_ff)
    int n_experts = 0;
    int n_experts_used = 0;
    int d_ff_expert = 0;         // each expert's FFN width
    // sliding-window attention: a windowed layer's query at p sees keys at p - window < j <= p
    int sliding_window = 0;      // 0: every layer attends to the whole context
    std::vector<uint8_t> layer_windowed;  // [n_layers] 1 = windowed; empty = none
    float rope_theta_swa = 0.f;  // RoPE base of windowed layers, unscaled (gemma3); 0 = as the others
    float rope_attn_factor = 1.f;  // rope.scaling.attn_factor (LongRoPE): scales cos/sin, so q.k by its square

    float softmax_scale() const { return attn_scale > 0.f ? attn_scale : 1.f / std::sqrt(float(head_dim)); }
    bool windowed(int layer) const { return !layer_windowed.empty() && layer_windowed[size_t(layer)] != 0; }
    /// The window when every layer has one (Mistral's), so KV blocks behind it can be freed; 0
    /// when any layer sees the whole context (gemma3's global layers) or none is windowed.
    int kv_window() const {
        if (sliding_window <= 0 || int(layer_windowed.size()) < n_layers) return 0;
        for (int l = 0; l < n_layers; ++l)
            if (!windowed(l)) return 0;
        return sliding_window;
    }
    bool is_moe() const { return n_experts > 0; }

    /// Reads and validates the config. Throws engine_error naming an unsupported architecture
    /// or the missing/invalid key.
    static model_config from_gguf(const gguf_file& f);

    /// Inverse frequencies per rotated pair [rope_dim/2], with any rope scaling applied.
    std::vector<float> rope_inv_freq() const;
    /// The same for windowed layers: rope_theta_swa without scaling (rope_inv_freq() when unset).
    std::vector<float> rope_inv_freq_swa() const;

    int64_t param_count() const;  // all weights, embeddings included (the LM head once if tied)
    int q_dim() const { return n_heads * head_dim; }
    int kv_dim() const { return n_kv_heads * head_dim; }
};

} // namespace rl
