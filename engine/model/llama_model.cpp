// llama_model.cpp: loads and shape-checks the weights of a llama/qwen2 GGUF onto a backend and
// runs the forward pass as a sequence of backend ops. The same code drives every backend; it is
// checked end to end against llama.cpp by test_golden.
#include "model/llama_model.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/memory_fit.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <cmath>
#include <string>

namespace rl {
namespace {

std::string dims_str(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + "]";
}

// GGUF dims are ggml order: dims[0] is the row length (in_features), dims[1] the row count.
const gguf_tensor_info& expect(const gguf_file& f, const std::string& name, std::vector<int64_t> dims) {
    const gguf_tensor_info* t = f.find_tensor(name);
    RL_CHECK(t != nullptr, "missing tensor '" + name + "'");
    std::vector<int64_t> got = t->dims;
    while (got.size() > dims.size() && got.back() == 1) got.pop_back();
    RL_CHECK(got == dims, "tensor '" + name + "' has shape " + dims_str(t->dims) + ", expected " + dims_str(dims));
    return *t;
}

tensor rows_view(const tensor& t, int64_t rows) {
    tensor v = t;
    v.rows = rows;
    return v;
}

} // namespace

std::unique_ptr<llama_model> llama_model::load(const gguf_file& f, backend& be, weight_storage ws) {
    const model_config cfg = model_config::from_gguf(f);
    std::unique_ptr<llama_model> m(new llama_model(cfg, be));
    const int64_t d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = cfg.d_ff, V = cfg.vocab_size;

    // Collect and shape-check everything first, so a bad file fails before any upload.
    std::vector<const gguf_tensor_info*> infos;
    auto want = [&](const std::string& name, std::vector<int64_t> dims) {
        const gguf_tensor_info& t = expect(f, name, std::move(dims));
        // A type the reader knows but cannot dequantize fails here, not after gigabytes of uploads.
        RL_CHECK(ggml_traits(t.type).dequantizable, "tensor '" + name + "' has type " + ggml_type_name(t.type) +
                                                        ", which this engine cannot dequantize (supported: f32, f16, "
                                                        "bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k)");
        infos.push_back(&t);
    };
    // The vocabulary and the embedding must agree; say so in those words rather than as a shape.
    if (const gguf_tensor_info* te = f.find_tensor("token_embd.weight"); te && te->dims.size() == 2 && te->dims[0] == d)
        RL_CHECK(te->dims[1] == V, "the vocabulary has " + std::to_string(V) + " tokens but token_embd.weight has " +
                                       std::to_string(te->dims[1]) + " rows");
    want("token_embd.weight", {d, V});
    want("output_norm.weight", {d});
    if (!cfg.tied_embeddings) want("output.weight", {d, V});
    for (int l = 0; l < cfg.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        want(p + "attn_norm.weight", {d});
        want(p + "attn_q.weight", {d, q});
        want(p + "attn_k.weight", {d, kv});
        want(p + "attn_v.weight", {d, kv});
        want(p + "attn_output.weight", {q, d});
        if (cfg.qkv_bias) {
            want(p + "attn_q.bias", {q});
            want(p + "attn_k.bias", {kv});
            want(p + "attn_v.bias", {kv});
        }
        want(p + "ffn_norm.weight", {d});
        want(p + "ffn_gate.weight", {d, ff});
        want(p + "ffn_up.weight", {d, ff});
        want(p + "ffn_down.weight", {ff, d});
    }
    // auto: the file's blocks where the backend prefers them and the file has any; else expanded
    // when that fits comfortably, and the blocks otherwise (backend.h).
    if (ws == weight_storage::automatic && be.prefers_native_weights() &&
        std::any_of(infos.begin(), infos.end(), [](const gguf_tensor_info* t) { return block_dtype(t->type).has_value(); }))
        ws = weight_storage::native;
    if (ws == weight_storage::automatic) {
        size_t expanded = 0;
        for (const auto* t : infos) expanded += size_t(t->n_elements()) * dtype_size(be.compute_dtype());
        ws = resolve_weight_storage(ws, be.compute_dtype(), expanded, be.info().free_memory);
    }
    m->storage_ = ws;
    size_t need = 0;
    for (const auto* t : infos)
        need += size_t(t->n_rows()) * dtype_row_bytes(be.weight_dtype(t->type, t->row_length(), ws), t->row_length());
    const device_info di = be.info();
    const std::string name = f.path().empty() ? cfg.name : f.path().substr(f.path().find_last_of('/') + 1);
    const std::string stored = ws == weight_storage::native ? "stored natively" : weight_storage_name(ws);
    if (auto why = weights_fit(need, di.free_memory, di.kind, stored, name); !why.empty())
        RL_THROW(why);

    // Upload in the order collected above; tensors are [out_features, in_features] on the backend.
    size_t next = 0;
    auto up = [&]() {
        tensor t = be.upload_weight(*infos[next++], ws);
        m->weight_bytes_ += t.bytes();
        return t;
    };
    m->tok_embd_ = up();
    m->out_norm_ = up();
    m->lm_head_ = cfg.tied_embeddings ? m->tok_embd_ : up();
    m->layers_.resize(size_t(cfg.n_layers));
    for (auto& L : m->layers_) {
        L.attn_norm = up();
        L.wq = up();
        L.wk = up();
        L.wv = up();
        L.wo = up();
        if (cfg.qkv_bias) {
            L.bq = up();
            L.bk = up();
            L.bv = up();
        }
        L.ffn_norm = up();
        L.w_gate = up();
        L.w_up = up();
        L.w_down = up();
    }
    m->inv_freq_ = cfg.rope_inv_freq();
    return m;
}

llama_model::~llama_model() {
    if (!cfg_.tied_embeddings) be_.release(lm_head_);
    for (tensor* t : {&tok_embd_, &out_norm_, &x_, &xn_, &q_, &k_, &v_, &attn_, &proj_, &gate_, &up_, &act_, &last_,
                      &last_norm_, &logits_})
        be_.release(*t);
    for (auto& L : layers_)
        for (tensor* t : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.ffn_norm, &L.w_gate,
                          &L.w_up, &L.w_down})
            be_.release(*t);
}

size_t llama_model::matmul_weight_bytes() const {
    size_t b = lm_head_.bytes();
    for (const auto& L : layers_)
        for (const tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) b += t->bytes();
    return b;
}

std::string llama_model::weight_types() const {
    std::map<std::string, size_t> by;
    auto add = [&](const tensor& t) { by[dtype_name(t.type)] += t.bytes(); };
    add(tok_embd_);
    add(out_norm_);
    if (!cfg_.tied_embeddings) add(lm_head_);
    for (const auto& L : layers_)
        for (const tensor* t : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.ffn_norm, &L.w_gate,
                                &L.w_up, &L.w_down})
            if (t->data) add(*t);
    std::vector<std::pair<std::string, size_t>> v(by.begin(), by.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    char buf[64];
    for (const auto& [name, bytes] : v) {
        std::snprintf(buf, sizeof buf, "%s%s %.2f GiB", out.empty() ? "" : ", ", name.c_str(),
                      double(bytes) / double(size_t(1) << 30));
        out += buf;
    }
    return out;
}

kv_cache_layout llama_model::kv_layout_for(int num_blocks, int block_size) const {
    return kv_cache_layout{cfg_.n_layers, num_blocks, block_size, cfg_.n_kv_heads, cfg_.head_dim};
}

void llama_model::ensure_scratch(int n_tokens, int n_logits) {
    const dtype t = be_.compute_dtype();
    if (n_tokens > scratch_tokens_) {
        // Grow geometrically so a sequence of slightly larger steps does not reallocate each time.
        const int n = std::max(n_tokens, scratch_tokens_ * 3 / 2);
        for (tensor* s : {&x_, &xn_, &q_, &k_, &v_, &attn_, &proj_, &gate_, &up_, &act_}) be_.release(*s);
        x_ = be_.alloc(n, cfg_.d_model, dtype::f32);  // [n, d] residual stream, f32 everywhere
        xn_ = be_.alloc(n, cfg_.d_model, t);      // [n, d] normed
        q_ = be_.alloc(n, cfg_.q_dim(), t);       // [n, n_heads*head_dim]
        k_ = be_.alloc(n, cfg_.kv_dim(), t);      // [n, n_kv_heads*head_dim]
        v_ = be_.alloc(n, cfg_.kv_dim(), t);
        attn_ = be_.alloc(n, cfg_.q_dim(), t);    // [n, n_heads*head_dim]
        proj_ = be_.alloc(n, cfg_.d_model, t);    // [n, d]
        gate_ = be_.alloc(n, cfg_.d_ff, t);       // [n, d_ff]
        up_ = be_.alloc(n, cfg_.d_ff, t);
        act_ = be_.alloc(n, cfg_.d_ff, t);
        scratch_tokens_ = n;
    }
    if (n_logits > scratch_logits_) {
        const int n = std::max(n_logits, scratch_logits_ * 3 / 2);
        for (tensor* s : {&last_, &last_norm_, &logits_}) be_.release(*s);
        last_ = be_.alloc(n, cfg_.d_model, dtype::f32);  // [n_logits, d] residual rows
        last_norm_ = be_.alloc(n, cfg_.d_model, t);  // [n_logits, d]
        logits_ = be_.alloc(n, cfg_.vocab_size, dtype::f32);  // [n_logits, vocab]
        scratch_logits_ = n;
    }
}

tensor llama_model::run_step(const step_input& in) {
    const int n = in.n_tokens();
    const int nl = static_cast<int>(in.logit_rows.size());
    RL_CHECK(n > 0, "forward: empty step");
    const kv_cache_layout& kl = be_.kv_layout();
    RL_CHECK(kl.num_blocks > 0 && kl.n_layers == cfg_.n_layers && kl.n_kv_heads == cfg_.n_kv_heads &&
                 kl.head_dim == cfg_.head_dim,
             "forward: the backend's KV pool is missing or was not allocated for this model's shape");
    bool decode_only = nl > 0;
    for (const seq_slice& s : in.seqs) {
        RL_CHECK(s.context_len() <= cfg_.context_length || cfg_.context_length <= 0,
                 "forward: position " + std::to_string(s.context_len() - 1) + " exceeds the model's context length " +
                     std::to_string(cfg_.context_length));
        decode_only = decode_only && s.n_tokens == 1;
    }
    ensure_scratch(n, std::max(nl, 1));
    be_.set_step(in);
    const tensor out = rows_view(logits_, nl);
    // Decode-only steps issue the same ops over the same buffers for a given (n, nl): the backend
    // may record them once and replay (CUDA graphs); the step's data travels in set_step.
    uint64_t key = reinterpret_cast<uintptr_t>(this) * 0x9E3779B97F4A7C15ull;  // per model, per shape
    key ^= (uint64_t(uint32_t(n)) << 32 | uint64_t(uint32_t(nl))) * 0xBF58476D1CE4E5B9ull;
    if (decode_only && be_.graph_replay(key)) return out;
    const bool recording = decode_only && be_.graph_begin(key);
    try {
        run_ops(in);
    } catch (...) {
        if (recording) be_.graph_abort();
        throw;
    }
    if (recording) be_.graph_end();
    return out;
}

void llama_model::run_ops(const step_input& in) {
    const int n = in.n_tokens();
    const int nl = static_cast<int>(in.logit_rows.size());
    tensor x = rows_view(x_, n), xn = rows_view(xn_, n), q = rows_view(q_, n), k = rows_view(k_, n),
           v = rows_view(v_, n), attn = rows_view(attn_, n), proj = rows_view(proj_, n),
           gate = rows_view(gate_, n), up = rows_view(up_, n), act = rows_view(act_, n);
    const rope_params rq{cfg_.n_heads, cfg_.head_dim, cfg_.rope_dim, cfg_.rope_neox, &inv_freq_};
    const rope_params rk{cfg_.n_kv_heads, cfg_.head_dim, cfg_.rope_dim, cfg_.rope_neox, &inv_freq_};
    const float scale = 1.f / std::sqrt(float(cfg_.head_dim));

    be_.embed(tok_embd_, x);  // x [n, d] f32
    // Two orders of the same ops: with fusing backends (decode at few rows on CUDA) the norms and
    // residual adds ride inside the products; otherwise one add_rms_norm pass per sublayer.
    const bool fused = be_.fuses_residual(n);
    if (!fused) be_.rms_norm(x, layers_[0].attn_norm, cfg_.norm_eps, xn);
    for (int l = 0; l < cfg_.n_layers; ++l) {
        const layer_weights& L = layers_[size_t(l)];
        const tensor* qkv_w[] = {&L.wq, &L.wk, &L.wv};
        tensor* qkv_out[] = {&q, &k, &v};
        // q [n, q_dim], k and v [n, kv_dim]; then q rotated, rotated k and v into the pool
        if (fused && !cfg_.qkv_bias) {
            be_.norm_qkv_rope_kv_store(l, x, L.attn_norm, cfg_.norm_eps, xn, qkv_w, qkv_out, rq, rk);
        } else {
            if (fused) be_.norm_matmuls(x, L.attn_norm, cfg_.norm_eps, xn, qkv_w, qkv_out);
            else be_.matmuls(xn, qkv_w, qkv_out);  // xn holds rms_norm(x) * attn_norm here
            if (cfg_.qkv_bias) {
                be_.add_bias(q, L.bq);
                be_.add_bias(k, L.bk);
                be_.add_bias(v, L.bv);
            }
            be_.rope_kv_store(l, q, k, v, rq, rk);
        }
        be_.attention(l, q, attn, cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim, scale);  // [n, q_dim]
        if (fused) {
            be_.matmul_add(attn, L.wo, proj, x);  // x += attn . wo^T
            be_.norm_gate_up_silu(x, L.ffn_norm, cfg_.norm_eps, xn, L.w_gate, L.w_up, gate, up, act);
            be_.matmul_add(act, L.w_down, proj, x);
            continue;
        }
        be_.matmul(attn, L.wo, proj);                                  // [n, d]
        be_.add_rms_norm(x, proj, L.ffn_norm, cfg_.norm_eps, xn);      // x += proj; xn = norm(x)
        be_.gate_up_silu(xn, L.w_gate, L.w_up, gate, up, act);  // act = silu(xn.w_gate^T) * xn.w_up^T
        be_.matmul(act, L.w_down, proj);                        // [n, d]
        if (l + 1 < cfg_.n_layers) be_.add_rms_norm(x, proj, layers_[size_t(l) + 1].attn_norm, cfg_.norm_eps, xn);
        else be_.add(x, proj);
    }
    if (nl == 0) return;
    // Only the rows whose logits are wanted go through the final norm and the (large) LM head.
    tensor last = rows_view(last_, nl), last_norm = rows_view(last_norm_, nl), out = rows_view(logits_, nl);
    be_.gather_logit_rows(x, last);                               // [nl, d] f32
    be_.rms_norm(last, out_norm_, cfg_.norm_eps, last_norm);      // [nl, d]
    be_.matmul(last_norm, lm_head_, out);                         // [nl, vocab] f32
}

void llama_model::forward(const step_input& in, std::vector<float>& logits) {
    const tensor out = run_step(in);
    logits.resize(size_t(out.rows) * size_t(cfg_.vocab_size));
    if (out.rows > 0) be_.download(out, logits.data());
}

void llama_model::forward_greedy(const step_input& in, std::vector<int32_t>& ids) {
    const tensor out = run_step(in);
    if (out.rows == 0) {
        ids.clear();
        return;
    }
    be_.argmax_rows(out, ids);
}

void llama_model::forward_sample(const step_input& in, const std::vector<row_sampling>& p, std::vector<int32_t>& ids) {
    const tensor out = run_step(in);
    if (out.rows == 0) {
        ids.clear();
        return;
    }
    be_.sample_rows(out, p, ids);
}

} // namespace rl
