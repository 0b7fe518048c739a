// model_config.cpp: reads the llama-family hyper-parameters from GGUF metadata (llama, qwen2,
// qwen3, qwen3moe, gemma3, phi3) with llama.cpp's keys and defaults, validates them, and derives
// the RoPE inverse frequencies (linear / llama3 scaling, the per-pair factors of a
// `rope_freqs.weight` tensor or LongRoPE's long/short factor tensors). Exercised by test_golden,
// test_families and test_engine.
#include "model/model_config.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace rl {
namespace {

int positive_int(const gguf_file& f, const std::string& key) {
    const int64_t v = f.get_int(key);
    RL_CHECK(v > 0 && v <= (int64_t(1) << 30), "key '" + key + "' must be a positive integer, got " + std::to_string(v));
    return static_cast<int>(v);
}

int optional_int(const gguf_file& f, const std::string& key, int fallback) {
    if (!f.has(key)) return fallback;
    return positive_int(f, key);
}

// The features of the families past llama/qwen2, each as llama.cpp's src/models/<arch>.cpp
// reads it (llama-cpp-python 0.3.36's copy).
void read_family(const gguf_file& f, const std::string& a, model_config& c) {
    c.attn_scale = 1.f / std::sqrt(float(c.head_dim));
    const std::string& arch = c.arch;
    c.qk_norm = arch == "qwen3" || arch == "qwen3moe" || arch == "gemma3";
    if (arch == "gemma3") {
        c.post_norms = true;
        c.act = ffn_activation::gelu_tanh;
        c.embed_scale = std::sqrt(float(c.d_model));
        // Gemma's query_pre_attn_scalar is not in the GGUF; llama.cpp derives it: d_model / n_heads
        // for the 27B (62 layers), head_dim for the others.
        if (c.n_layers == 62) c.attn_scale = 1.f / std::sqrt(float(c.d_model / c.n_heads));
        RL_CHECK(f.get_float_or(a + "final_logit_softcapping", 0.0) == 0.0, "final logit softcapping is not supported");
    }
    // Sliding window: gemma3 interleaves windowed and global layers (sliding_window_pattern, an
    // int N: every Nth layer global, default 6; or one bool per layer); llama (Mistral) windows
    // every layer. llama.cpp ignores the key for llama and switches it off for phi3 (its Phi SWA is
    // disabled), so phi3 ignores it here too; Ridgeline honours Mistral's, as HF does.
    const int window = f.has(a + "attention.sliding_window") ? int(f.get_int(a + "attention.sliding_window")) : 0;
    if (window > 0 && (arch == "gemma3" || arch == "llama")) {
        c.sliding_window = window;
        c.layer_windowed.assign(size_t(c.n_layers), 1);
        if (arch == "gemma3") {
            const std::string pk = a + "attention.sliding_window_pattern";
            const gguf_value* pv = f.find(pk);
            if (pv && pv->type == gguf_value_type::array) {
                const auto& arr = pv->as_array();
                RL_CHECK(arr.size() >= size_t(c.n_layers), "'" + pk + "' has fewer entries than layers");
                for (int l = 0; l < c.n_layers; ++l) c.layer_windowed[size_t(l)] = arr[size_t(l)].as_bool() ? 1 : 0;
            } else {
                const int n = pv ? int(pv->as_int()) : 6;
                for (int l = 0; l < c.n_layers; ++l) c.layer_windowed[size_t(l)] = n == 0 || l % n < n - 1;
            }
            c.rope_theta_swa = static_cast<float>(f.get_float_or(a + "rope.freq_base_swa", 10000.0));
            RL_CHECK(c.rope_theta_swa > 1.f, "rope.freq_base_swa must be > 1");
        }
    }
    if (arch == "qwen3moe" || (arch == "llama" && f.has(a + "expert_count"))) {
        c.n_experts = positive_int(f, a + "expert_count");
        c.n_experts_used = positive_int(f, a + "expert_used_count");
        RL_CHECK(c.n_experts_used <= c.n_experts, "expert_used_count exceeds expert_count");
        c.d_ff_expert = arch == "qwen3moe" ? positive_int(f, a + "expert_feed_forward_length") : c.d_ff;
    }
}

} // namespace

model_config model_config::from_gguf(const gguf_file& f) {
    model_config c;
    c.arch = f.get_string("general.architecture");
    static const char* const kArchs[] = {"llama", "qwen2", "qwen3", "qwen3moe", "gemma3", "phi3"};
    if (std::find(std::begin(kArchs), std::end(kArchs), c.arch) == std::end(kArchs))
        RL_THROW("unsupported model architecture '" + c.arch + "' (supported: llama, qwen2, qwen3, qwen3moe, gemma3, phi3)");
    c.name = f.get_string_or("general.name", c.arch);
    const std::string a = c.arch + ".";

    c.n_layers = positive_int(f, a + "block_count");
    c.d_model = positive_int(f, a + "embedding_length");
    c.d_ff = positive_int(f, a + "feed_forward_length");
    c.n_heads = positive_int(f, a + "attention.head_count");
    c.n_kv_heads = optional_int(f, a + "attention.head_count_kv", c.n_heads);
    RL_CHECK(c.n_heads % c.n_kv_heads == 0, "attention.head_count (" + std::to_string(c.n_heads) +
                                                ") must be a multiple of attention.head_count_kv (" +
                                                std::to_string(c.n_kv_heads) + ")");
    if (f.has(a + "attention.key_length")) {
        c.head_dim = positive_int(f, a + "attention.key_length");
        const int vlen = optional_int(f, a + "attention.value_length", c.head_dim);
        RL_CHECK(vlen == c.head_dim, "attention.value_length != attention.key_length is not supported");
    } else {
        RL_CHECK(c.d_model % c.n_heads == 0, "embedding_length (" + std::to_string(c.d_model) +
                                                 ") is not a multiple of attention.head_count (" +
                                                 std::to_string(c.n_heads) + ")");
        c.head_dim = c.d_model / c.n_heads;
    }
    // q_dim() and kv_dim() are ints: a hostile header must not overflow them (fuzz_gguf found it).
    RL_CHECK(int64_t(c.n_heads) * c.head_dim <= (int64_t(1) << 24),
             "attention.head_count (" + std::to_string(c.n_heads) + ") x head dim (" + std::to_string(c.head_dim) +
                 ") is too large");
    c.context_length = optional_int(f, a + "context_length", 2048);
    c.norm_eps = static_cast<float>(f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5));
    RL_CHECK(c.norm_eps > 0.f && c.norm_eps < 1.f, "attention.layer_norm_rms_epsilon must be in (0, 1)");
    c.rope_theta = static_cast<float>(f.get_float_or(a + "rope.freq_base", 10000.0));
    RL_CHECK(c.rope_theta > 1.f, "rope.freq_base must be > 1");
    c.rope_dim = optional_int(f, a + "rope.dimension_count", c.head_dim);
    RL_CHECK(c.rope_dim % 2 == 0 && c.rope_dim <= c.head_dim,
             "rope.dimension_count (" + std::to_string(c.rope_dim) + ") must be even and <= head_dim (" +
                 std::to_string(c.head_dim) + ")");
    // llama.cpp's converter permutes llama Q/K rows so RoPE rotates adjacent pairs; the others keep
    // the HF layout, rotating element i with i + rope_dim/2 (NEOX; llama_model_rope_type).
    c.rope_neox = c.arch != "llama";
    c.qkv_bias = c.arch == "qwen2";
    read_family(f, a, c);

    if (f.has(a + "vocab_size")) {
        c.vocab_size = positive_int(f, a + "vocab_size");
    } else if (f.has("tokenizer.ggml.tokens")) {
        c.vocab_size = static_cast<int>(f.get_array("tokenizer.ggml.tokens").size());
    } else if (const auto* te = f.find_tensor("token_embd.weight"); te && te->dims.size() == 2) {
        c.vocab_size = static_cast<int>(te->dims[1]);
    }
    RL_CHECK(c.vocab_size > 0, "cannot determine the vocabulary size (no '" + a +
                                   "vocab_size', no tokenizer.ggml.tokens)");

    // Rope scaling. A rope_freqs tensor (Llama 3.1 GGUFs) already encodes llama3 scaling as
    // per-pair divisors, so it takes precedence over the metadata to avoid scaling twice.
    const std::string stype = f.get_string_or(a + "rope.scaling.type", "none");
    c.rope_attn_factor = static_cast<float>(f.get_float_or(a + "rope.scaling.attn_factor", 1.0));
    RL_CHECK(c.rope_attn_factor > 0.f && std::isfinite(c.rope_attn_factor), "rope.scaling.attn_factor must be > 0");
    // It scales the rotated dims of q and k; folded into the softmax scale, so all dims must rotate.
    RL_CHECK(c.rope_attn_factor == 1.f || c.rope_dim == c.head_dim,
             "rope.scaling.attn_factor with partial rotary dims is not supported");
    const auto* long_f = f.find_tensor("rope_factors_long.weight");
    const auto* short_f = f.find_tensor("rope_factors_short.weight");
    if (long_f || short_f) {
        // LongRoPE (Phi-3 128k): llama.cpp takes the long factors when the context it serves exceeds
        // the original one; Ridgeline serves the model's whole context_length.
        const int orig = optional_int(f, a + "rope.scaling.original_context_length", c.context_length);
        const auto* rf = c.context_length > orig ? long_f : short_f;
        RL_CHECK(rf != nullptr, std::string("LongRoPE: tensor 'rope_factors_") +
                                    (c.context_length > orig ? "long" : "short") + ".weight' is missing");
        RL_CHECK(rf->n_elements() == c.rope_dim / 2, "tensor '" + rf->name + "' has " + std::to_string(rf->n_elements()) +
                                                         " elements, expected " + std::to_string(c.rope_dim / 2));
        c.rope_freq_factors.resize(size_t(c.rope_dim / 2));
        dequantize_row(rf->type, rf->data, c.rope_freq_factors.data(), rf->n_elements());
        for (float v : c.rope_freq_factors) RL_CHECK(v > 0.f && std::isfinite(v), "'" + rf->name + "' has a non-positive factor");
    } else if (const auto* rf = f.find_tensor("rope_freqs.weight")) {
        RL_CHECK(rf->n_elements() == c.rope_dim / 2, "tensor 'rope_freqs.weight' has " +
                                                         std::to_string(rf->n_elements()) + " elements, expected " +
                                                         std::to_string(c.rope_dim / 2));
        c.rope_freq_factors.resize(size_t(c.rope_dim / 2));
        dequantize_row(rf->type, rf->data, c.rope_freq_factors.data(), rf->n_elements());
        for (float v : c.rope_freq_factors) RL_CHECK(v > 0.f && std::isfinite(v), "rope_freqs.weight has a non-positive factor");
    } else if (stype == "linear" || stype == "llama3") {
        c.rope_scaling = stype == "linear" ? rope_scaling_type::linear
                                           : rope_scaling_type::llama3;
        c.rope_factor = static_cast<float>(f.get_float_or(a + "rope.scaling.factor", 1.0));
        c.rope_low_freq_factor = static_cast<float>(f.get_float_or(a + "rope.scaling.low_freq_factor", 1.0));
        c.rope_high_freq_factor = static_cast<float>(f.get_float_or(a + "rope.scaling.high_freq_factor", 4.0));
        c.rope_original_context = optional_int(f, a + "rope.scaling.original_context_length", 8192);
        RL_CHECK(c.rope_factor > 0.f, "rope.scaling.factor must be > 0");
        RL_CHECK(c.rope_high_freq_factor > c.rope_low_freq_factor,
                 "rope.scaling.high_freq_factor must exceed low_freq_factor");
    } else if (stype != "none") {
        RL_THROW("unsupported rope scaling type '" + stype + "' (supported: none, linear, llama3)");
    }

    c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
    c.attn_scale *= c.rope_attn_factor * c.rope_attn_factor;
    return c;
}

std::vector<float> model_config::rope_inv_freq_swa() const {
    if (rope_theta_swa <= 0.f) return rope_inv_freq();
    std::vector<float> out(size_t(std::max(rope_dim / 2, 0)));
    for (int i = 0; i < rope_dim / 2; ++i) out[size_t(i)] = float(std::pow(double(rope_theta_swa), -2.0 * i / double(rope_dim)));
    return out;
}

std::vector<float> model_config::rope_inv_freq() const {
    const int half = rope_dim / 2;
    std::vector<float> out(size_t(std::max(half, 0)));
    const double two_pi = 2.0 * std::numbers::pi;
    for (int i = 0; i < half; ++i) {
        double f = std::pow(double(rope_theta), -2.0 * i / double(rope_dim));
        if (rope_scaling == rope_scaling_type::linear) {
            f /= rope_factor;
        } else if (rope_scaling == rope_scaling_type::llama3) {
            // Meta's Llama 3.1 recipe: keep high frequencies, divide low ones by the factor,
            // interpolate smoothly in between (by wavelength relative to the original context).
            const double wavelen = two_pi / f;
            const double low_wavelen = rope_original_context / double(rope_low_freq_factor);
            const double high_wavelen = rope_original_context / double(rope_high_freq_factor);
            if (wavelen > low_wavelen) {
                f /= rope_factor;
            } else if (wavelen >= high_wavelen) {
                const double smooth = (rope_original_context / wavelen - rope_low_freq_factor) /
                                      double(rope_high_freq_factor - rope_low_freq_factor);
                f = (1.0 - smooth) * f / rope_factor + smooth * f;
            }
        }
        if (!rope_freq_factors.empty()) f /= rope_freq_factors[size_t(i)];
        out[size_t(i)] = static_cast<float>(f);
    }
    return out;
}

int64_t model_config::param_count() const {
    const int64_t d = d_model;
    int64_t per_layer = 2 * d                                  // attn_norm, ffn_norm
                        + d * q_dim() + 2 * d * kv_dim()       // wq, wk, wv
                        + int64_t(q_dim()) * d;                // wo
    if (is_moe()) per_layer += d * n_experts + 3 * d * int64_t(d_ff_expert) * n_experts;  // router, experts
    else per_layer += 3 * d * d_ff;                            // gate, up, down
    if (qkv_bias) per_layer += q_dim() + 2 * kv_dim();
    if (qk_norm) per_layer += 2 * head_dim;
    if (post_norms) per_layer += 2 * d;
    const int64_t embd = int64_t(vocab_size) * d;
    return embd + (tied_embeddings ? 0 : embd) + d + int64_t(n_layers) * per_layer;
}

} // namespace rl
