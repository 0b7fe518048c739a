// model_config: the hyper-parameters of a llama-family model, read from GGUF metadata
// (architectures `llama` and `qwen2`) or built for a synthetic shape.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rl {

class gguf_file;

enum class rope_scaling_type { none, linear, llama3 };

struct model_config {
    std::string arch;            // "llama" or "qwen2"
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

    /// Reads and validates the config. Throws engine_error naming an unsupported architecture
    /// or the missing/invalid key.
    static model_config from_gguf(const gguf_file& f);

    /// Inverse frequencies per rotated pair [rope_dim/2], with any rope scaling applied.
    std::vector<float> rope_inv_freq() const;

    int64_t param_count() const;  // all weights, embeddings included (the LM head once if tied)
    int q_dim() const { return n_heads * head_dim; }
    int kv_dim() const { return n_kv_heads * head_dim; }
};

} // namespace rl
