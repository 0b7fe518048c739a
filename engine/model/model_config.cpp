// model_config.cpp: reads the llama-family hyper-parameters from GGUF metadata (llama, qwen2),
// validates them, and derives the RoPE inverse frequencies (with linear / llama3 scaling or the
// per-pair factors of a `rope_freqs.weight` tensor). Exercised by test_golden and test_engine.
#include "model/model_config.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"

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

} // namespace

model_config model_config::from_gguf(const gguf_file& f) {
    model_config c;
    c.arch = f.get_string("general.architecture");
    if (c.arch != "llama" && c.arch != "qwen2")
        RL_THROW("unsupported model architecture '" + c.arch + "' (supported: llama, qwen2)");
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
    // llama.cpp's converter permutes llama Q/K rows so RoPE rotates adjacent pairs; qwen2 keeps
    // the HF layout, rotating element i with i + rope_dim/2 (NEOX).
    c.rope_neox = c.arch == "qwen2";
    c.qkv_bias = c.arch == "qwen2";

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
    if (const auto* rf = f.find_tensor("rope_freqs.weight")) {
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
    return c;
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
                        + int64_t(q_dim()) * d                 // wo
                        + 3 * d * d_ff;                        // gate, up, down
    if (qkv_bias) per_layer += q_dim() + 2 * kv_dim();
    const int64_t embd = int64_t(vocab_size) * d;
    return embd + (tied_embeddings ? 0 : embd) + d + int64_t(n_layers) * per_layer;
}

} // namespace rl
