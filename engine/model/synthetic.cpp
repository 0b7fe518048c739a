// synthetic.cpp: the synthetic shapes (from the models' published configs) and
// llama_model::synthetic, which allocates every weight on the backend and fills it with
// uniform noise of the magnitude of a trained model (norm weights are 1).
#include "model/synthetic.h"

#include "common/engine_error.h"
#include "model/llama_model.h"
#include "model/memory_fit.h"

#include <cmath>

namespace rl {

std::vector<std::string> synthetic_names() { return {"llama3-8b", "smollm2-135m", "qwen2.5-7b", "llama3-70b-4layers"}; }

model_config synthetic_config(const std::string& name) {
    model_config c;
    c.name = "synthetic:" + name;
    c.arch = "llama";
    c.norm_eps = 1e-5f;
    if (name == "llama3-8b") {
        c.n_layers = 32; c.d_model = 4096; c.n_heads = 32; c.n_kv_heads = 8; c.d_ff = 14336;
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
    } else {
        std::string names;
        for (auto& n : synthetic_names()) names += (names.empty() ? "" : ", ") + n;
        RL_THROW("unknown synthetic model '" + name + "' (known: " + names + ")");
    }
    c.head_dim = c.d_model / c.n_heads;
    c.rope_dim = c.head_dim;
    return c;
}

std::unique_ptr<llama_model> llama_model::synthetic(const model_config& cfg, backend& be, uint64_t seed) {
    std::unique_ptr<llama_model> m(new llama_model(cfg, be));
    const int64_t d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = cfg.d_ff, V = cfg.vocab_size;
    const dtype dt = be.compute_dtype();
    const size_t need = size_t(cfg.param_count()) * dtype_size(dt);
    const device_info di = be.info();
    if (auto why = weights_fit(need, di.free_memory, di.kind, dt == dtype::f32 ? "fp32" : "bf16", cfg.name); !why.empty()) RL_THROW(why);
    uint64_t stream = seed * 1000003;
    auto make = [&](int64_t rows, int64_t cols, float scale, bool ones = false) {
        tensor t = be.alloc(rows, cols, dt);
        if (ones) be.fill_random(t, 0, 1.0f, 1.0f);
        else be.fill_random(t, ++stream, -scale, scale);
        m->weight_bytes_ += t.bytes();
        return t;
    };
    // Uniform(-a, a) with a = sqrt(3 / fan_in) keeps activations O(1) through the layers.
    auto w = [&](int64_t out, int64_t in) { return make(out, in, std::sqrt(3.0f / float(in))); };
    m->tok_embd_ = make(V, d, 1.0f);
    m->out_norm_ = make(1, d, 0, true);
    m->lm_head_ = cfg.tied_embeddings ? m->tok_embd_ : w(V, d);
    m->layers_.resize(size_t(cfg.n_layers));
    for (auto& L : m->layers_) {
        L.attn_norm = make(1, d, 0, true);
        L.wq = w(q, d);
        L.wk = w(kv, d);
        L.wv = w(kv, d);
        L.wo = w(d, q);
        if (cfg.qkv_bias) {
            L.bq = make(1, q, 0.02f);
            L.bk = make(1, kv, 0.02f);
            L.bv = make(1, kv, 0.02f);
        }
        L.ffn_norm = make(1, d, 0, true);
        L.w_gate = w(ff, d);
        L.w_up = w(ff, d);
        L.w_down = w(d, ff);
    }
    m->inv_freq_ = cfg.rope_inv_freq();
    return m;
}

} // namespace rl
