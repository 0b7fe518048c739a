// synthetic.cpp: the synthetic shapes (from the models' published configs) and
// llama_model::synthetic, which allocates every weight on the backend and fills it with
// uniform noise of the magnitude of a trained model (norm weights are 1).
#include "model/synthetic.h"

#include "common/engine_error.h"
#include "model/llama_model.h"
#include "model/memory_fit.h"

#include <cmath>

namespace rl {

std::vector<std::string> synthetic_names() {
    return {"llama3-8b",  "smollm2-135m",  "qwen2.5-7b", "llama3-70b", "llama3-70b-4layers",
            "qwen3-8b",   "qwen3-30b-a3b", "gemma3-12b", "phi4-14b",   "mixtral-8x7b-4layers"};
}

std::vector<std::string> synthetic_quants() {
    return {"q4_k_m", "q5_k_m", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"};
}

std::string synthetic_quant(const std::string& name) {
    const size_t colon = name.find(':');
    if (colon == std::string::npos) return "";
    const std::string q = name.substr(colon + 1);
    for (const auto& k : synthetic_quants())
        if (q == k) return q;
    std::string known;
    for (const auto& k : synthetic_quants()) known += (known.empty() ? "" : ", ") + k;
    RL_THROW("unknown quantization '" + q + "' in synthetic:" + name + " (known: " + known + ")");
}

dtype synthetic_weight_dtype(const std::string& quant, const std::string& role, int layer, int n_layers) {
    const bool mix = quant == "q4_k_m" || quant == "q5_k_m";
    if (!mix) {
        for (dtype t : {dtype::q8_0, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q4_k, dtype::q5_k,
                        dtype::q6_k})
            if (quant == dtype_name(t)) return t;
        RL_THROW("unknown synthetic quantization '" + quant + "'");
    }
    // llama.cpp's llama_tensor_get_type for *_K_M: the output in q6_k; attn_v and ffn_down in
    // q6_k in the first and last eighth of the layers and every third layer between.
    const bool more_bits = layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
    if (role == "output" || ((role == "attn_v" || role == "ffn_down") && more_bits)) return dtype::q6_k;
    return quant == "q4_k_m" ? dtype::q4_k : dtype::q5_k;
}

model_config synthetic_config(const std::string& full) {
    const std::string quant = synthetic_quant(full);
    const std::string name = full.substr(0, full.find(':'));
    model_config c;
    c.name = "synthetic:" + full;
    c.arch = "llama";
    c.norm_eps = 1e-5f;
    if (name == "llama3-8b") {
        c.n_layers = 32; c.d_model = 4096; c.n_heads = 32; c.n_kv_heads = 8; c.d_ff = 14336;
        c.vocab_size = 128256; c.context_length = 8192; c.rope_theta = 500000;
    } else if (name == "llama3-70b") {
        c.n_layers = 80; c.d_model = 8192; c.n_heads = 64; c.n_kv_heads = 8; c.d_ff = 28672;
        c.vocab_size = 128256; c.context_length = 8192; c.rope_theta = 500000;
    } else if (name == "llama3-70b-4layers") {
        c.n_layers = 4; c.d_model = 8192; c.n_heads = 64; c.n_kv_heads = 8; c.d_ff = 28672;
        c.vocab_size = 128256; c.context_length = 8192; c.rope_theta = 500000;
    } else if (name == "smollm2-135m") {
        c.n_layers = 30; c.d_model = 576; c.n_heads = 9; c.n_kv_heads = 3; c.d_ff = 1536;
        c.vocab_size = 49152; c.context_length = 8192; c.rope_theta = 100000;
        c.tied_embeddings = true;
    } else if (name == "qwen2.5-7b") {
        c.arch = "qwen2";
        c.n_layers = 28; c.d_model = 3584; c.n_heads = 28; c.n_kv_heads = 4; c.d_ff = 18944;
        c.vocab_size = 152064; c.context_length = 32768; c.rope_theta = 1000000;
        c.qkv_bias = true; c.rope_neox = true; c.norm_eps = 1e-6f;
    } else if (name == "qwen3-8b") {
        c.arch = "qwen3";
        c.n_layers = 36; c.d_model = 4096; c.n_heads = 32; c.n_kv_heads = 8; c.head_dim = 128; c.d_ff = 12288;
        c.vocab_size = 151936; c.context_length = 40960; c.rope_theta = 1000000;
        c.qk_norm = true; c.rope_neox = true; c.norm_eps = 1e-6f;
    } else if (name == "qwen3-30b-a3b") {
        c.arch = "qwen3moe";
        c.n_layers = 48; c.d_model = 2048; c.n_heads = 32; c.n_kv_heads = 4; c.head_dim = 128; c.d_ff = 6144;
        c.n_experts = 128; c.n_experts_used = 8; c.d_ff_expert = 768;
        c.vocab_size = 151936; c.context_length = 40960; c.rope_theta = 1000000;
        c.qk_norm = true; c.rope_neox = true; c.norm_eps = 1e-6f;
    } else if (name == "gemma3-12b") {
        c.arch = "gemma3";
        c.n_layers = 48; c.d_model = 3840; c.n_heads = 16; c.n_kv_heads = 8; c.head_dim = 256; c.d_ff = 15360;
        c.vocab_size = 262208; c.context_length = 131072; c.rope_theta = 1000000; c.rope_theta_swa = 10000;
        c.rope_scaling = rope_scaling_type::linear; c.rope_factor = 8;
        c.qk_norm = true; c.post_norms = true; c.act = ffn_activation::gelu_tanh; c.rope_neox = true;
        c.embed_scale = std::sqrt(3840.f); c.norm_eps = 1e-6f; c.tied_embeddings = true;
        c.sliding_window = 1024;  // five windowed layers, then one global
        for (int l = 0; l < c.n_layers; ++l) c.layer_windowed.push_back(l % 6 < 5);
    } else if (name == "phi4-14b") {
        c.arch = "phi3";
        c.n_layers = 40; c.d_model = 5120; c.n_heads = 40; c.n_kv_heads = 10; c.d_ff = 17920;
        c.vocab_size = 100352; c.context_length = 16384; c.rope_theta = 250000; c.rope_neox = true;
    } else if (name == "mixtral-8x7b-4layers") {
        c.n_layers = 4; c.d_model = 4096; c.n_heads = 32; c.n_kv_heads = 8; c.d_ff = 14336;
        c.n_experts = 8; c.n_experts_used = 2; c.d_ff_expert = 14336;
        c.vocab_size = 32000; c.context_length = 32768; c.rope_theta = 1000000;
    } else {
        std::string names;
        for (auto& n : synthetic_names()) names += (names.empty() ? "" : ", ") + n;
        RL_THROW("unknown synthetic model '" + name + "' (known: " + names + "; a :QUANT suffix such as :q4_k_m makes "
                 "native block-format weights)");
    }
    if (c.head_dim == 0) c.head_dim = c.d_model / c.n_heads;
    c.rope_dim = c.head_dim;
    return c;
}

namespace {

// A K-quant needs rows of whole 256-element blocks; llama.cpp falls back for narrower rows
// (SmolLM2's 576) the same way.
dtype fit_rows(dtype t, int64_t cols) {
    if (cols % 256 == 0) return t;
    switch (t) {
    case dtype::q4_k: return dtype::q5_0;
    case dtype::q5_k: return dtype::q5_1;
    case dtype::q6_k: return dtype::q8_0;
    default: return t;
    }
}

} // namespace

std::unique_ptr<llama_model> llama_model::synthetic(const model_config& cfg, backend& be, uint64_t seed,
                                                    const std::string& quant) {
    std::unique_ptr<llama_model> m(new llama_model(cfg, be));
    const int64_t d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = cfg.d_ff, V = cfg.vocab_size;
    const dtype dt = be.compute_dtype();
    // Every weight planned first (where it goes, its shape, type and range), so the memory check
    // sees the real bytes before anything is allocated.
    struct plan {
        tensor* dst;
        int64_t rows, cols;
        dtype type;
        float scale;
        bool ones;
    };
    std::vector<plan> plans;
    m->layers_.resize(size_t(cfg.n_layers));
    auto type_of = [&](const char* role, int layer, int64_t cols) {
        return quant.empty() ? dt : fit_rows(synthetic_weight_dtype(quant, role, layer, cfg.n_layers), cols);
    };
    // Uniform(-a, a) with a = sqrt(3 / fan_in) keeps activations O(1) through the layers.
    auto w = [&](tensor* t, const char* role, int layer, int64_t out, int64_t in) {
        plans.push_back({t, out, in, type_of(role, layer, in), std::sqrt(3.0f / float(in)), false});
    };
    auto vec = [&](tensor* t, int64_t n, float scale, bool ones) { plans.push_back({t, 1, n, dt, scale, ones}); };
    plans.push_back({&m->tok_embd_, V, d, type_of("token_embd", 0, d), 1.0f, false});
    vec(&m->out_norm_, d, 0, true);
    if (!cfg.tied_embeddings) w(&m->lm_head_, "output", 0, V, d);
    for (int i = 0; i < cfg.n_layers; ++i) {
        layer_weights& L = m->layers_[size_t(i)];
        vec(&L.attn_norm, d, 0, true);
        w(&L.wq, "attn_q", i, q, d);
        w(&L.wk, "attn_k", i, kv, d);
        w(&L.wv, "attn_v", i, kv, d);
        w(&L.wo, "attn_output", i, d, q);
        if (cfg.qkv_bias) {
            vec(&L.bq, q, 0.02f, false);
            vec(&L.bk, kv, 0.02f, false);
            vec(&L.bv, kv, 0.02f, false);
        }
        if (cfg.qk_norm) {
            vec(&L.q_norm, cfg.head_dim, 0, true);
            vec(&L.k_norm, cfg.head_dim, 0, true);
        }
        if (cfg.post_norms) {
            vec(&L.post_attn_norm, d, 0, true);
            vec(&L.post_ffn_norm, d, 0, true);
        }
        vec(&L.ffn_norm, d, 0, true);
        if (cfg.is_moe()) {  // experts stacked in rows, as llama_model::load keeps them
            const int64_t E = cfg.n_experts, fe = cfg.d_ff_expert;
            w(&L.gate_inp, "ffn_gate_inp", i, E, d);
            w(&L.gate_exps, "ffn_gate", i, E * fe, d);
            w(&L.up_exps, "ffn_up", i, E * fe, d);
            w(&L.down_exps, "ffn_down", i, E * d, fe);
            continue;
        }
        w(&L.w_gate, "ffn_gate", i, ff, d);
        w(&L.w_up, "ffn_up", i, ff, d);
        w(&L.w_down, "ffn_down", i, d, ff);
    }
    size_t need = 0;
    for (const plan& p : plans) {
        need += size_t(p.rows) * dtype_row_bytes(p.type, p.cols);
        if (is_quantized(p.type) && be.weight_dtype(to_ggml_type(p.type), p.cols, weight_storage::native) != p.type)
            RL_THROW("the " + be.name() + " backend does not keep " + dtype_name(p.type) + " weights natively, so " +
                     cfg.name + " cannot run on it (use the CUDA backend, or the model without :" + quant + ")");
    }
    const device_info di = be.info();
    const std::string stored = quant.empty() ? (dt == dtype::f32 ? "fp32" : "bf16") : quant + " blocks";
    if (auto why = weights_fit(need, di.free_memory, di.kind, stored, cfg.name); !why.empty()) RL_THROW(why);
    uint64_t stream = seed * 1000003;
    for (const plan& p : plans) {
        tensor t = be.alloc(p.rows, p.cols, p.type);
        *p.dst = t;  // owned by the model from here (its destructor releases it)
        m->weight_bytes_ += t.bytes();
        if (p.ones) be.fill_random(t, 0, 1.0f, 1.0f);
        else be.fill_random(t, ++stream, -p.scale, p.scale);
    }
    if (cfg.tied_embeddings) m->lm_head_ = m->tok_embd_;
    m->storage_ = !quant.empty() ? weight_storage::native
                                 : (dt == dtype::f32 ? weight_storage::f32 : weight_storage::bf16);
    m->inv_freq_ = cfg.rope_inv_freq();
    m->inv_freq_swa_ = cfg.rope_inv_freq_swa();
    return m;
}

std::unique_ptr<llama_model> llama_model::synthetic_named(const std::string& name, backend& be, weight_storage ws) {
    const model_config cfg = synthetic_config(name);
    const std::string quant = synthetic_quant(name);
    if (!quant.empty() && ws == weight_storage::automatic) ws = weight_storage::native;  // made of blocks
    RL_CHECK(quant.empty() || ws == weight_storage::native,
             "synthetic:" + name + " is made of native " + quant + " blocks: --weights " + weight_storage_name(ws) +
                 " needs a GGUF file or a synthetic model without :" + quant);
    if (quant.empty()) be.weight_dtype(ggml_type::f32, cfg.d_model, ws);  // refuses a storage the backend lacks
    return synthetic(cfg, be, 1, quant);
}

} // namespace rl
