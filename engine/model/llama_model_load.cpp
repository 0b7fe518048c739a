// llama_model_load.cpp: loads and shape-checks the weights of a GGUF onto a backend, with
// llama.cpp's tensor names for every family model_config reads (fused attn_qkv and phi3's gate|up
// ffn_up split into row views, q/k norms, gemma3's post norms, stacked experts), and the
// accounting of what the model holds. Checked by test_golden, test_families and test_bad_models.
#include "model/llama_model.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/memory_fit.h"

#include <algorithm>
#include <cstdio>
#include <map>
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

// Rows [r0, r0 + n) of a weight, sharing its memory (whole rows, so block formats stay valid).
tensor row_view(const tensor& w, int64_t r0, int64_t n) {
    tensor v = w;
    v.data = static_cast<uint8_t*>(w.data) + size_t(r0) * dtype_row_bytes(w.type, w.cols);
    v.rows = n;
    return v;
}

} // namespace

std::vector<const tensor*> layer_weights::owned() const {
    std::vector<const tensor*> v{&attn_norm, &wo, &bq, &bk, &bv, &ffn_norm, &q_norm, &k_norm, &post_attn_norm,
                                 &post_ffn_norm, &gate_inp, &gate_exps, &up_exps, &down_exps};
    if (wqkv.data) v.push_back(&wqkv);
    else v.insert(v.end(), {&wq, &wk, &wv});
    if (w_gate_up.data) v.push_back(&w_gate_up);
    else v.insert(v.end(), {&w_gate, &w_up});
    v.push_back(&w_down);
    return v;
}

std::unique_ptr<llama_model> llama_model::load(const gguf_file& f, backend& be, weight_storage ws) {
    const model_config cfg = model_config::from_gguf(f);
    std::unique_ptr<llama_model> m(new llama_model(cfg, be));
    const int64_t d = cfg.d_model, q = cfg.q_dim(), kv = cfg.kv_dim(), ff = cfg.d_ff, V = cfg.vocab_size;
    const int64_t hd = cfg.head_dim, E = cfg.n_experts, fe = cfg.d_ff_expert;

    // Collect and shape-check everything first, so a bad file fails before any upload.
    std::vector<std::pair<const gguf_tensor_info*, tensor*>> infos;
    auto want = [&](const std::string& name, std::vector<int64_t> dims, tensor* dst) {
        const gguf_tensor_info& t = expect(f, name, std::move(dims));
        // A type the reader knows but cannot dequantize fails here, not after gigabytes of uploads.
        RL_CHECK(ggml_traits(t.type).dequantizable, "tensor '" + name + "' has type " + ggml_type_name(t.type) +
                                                        ", which this engine cannot dequantize (supported: f32, f16, "
                                                        "bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k)");
        infos.emplace_back(&t, dst);
    };
    // The vocabulary and the embedding must agree; say so in those words rather than as a shape.
    if (const gguf_tensor_info* te = f.find_tensor("token_embd.weight"); te && te->dims.size() == 2 && te->dims[0] == d)
        RL_CHECK(te->dims[1] == V, "the vocabulary has " + std::to_string(V) + " tokens but token_embd.weight has " +
                                       std::to_string(te->dims[1]) + " rows");
    want("token_embd.weight", {d, V}, &m->tok_embd_);
    want("output_norm.weight", {d}, &m->out_norm_);
    if (!cfg.tied_embeddings) want("output.weight", {d, V}, &m->lm_head_);
    m->layers_.resize(size_t(cfg.n_layers));
    for (int l = 0; l < cfg.n_layers; ++l) {
        layer_weights& L = m->layers_[size_t(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        want(p + "attn_norm.weight", {d}, &L.attn_norm);
        if (f.find_tensor(p + "attn_qkv.weight")) {  // fused q|k|v rows (phi3; llama.cpp accepts it anywhere)
            want(p + "attn_qkv.weight", {d, q + 2 * kv}, &L.wqkv);
        } else {
            want(p + "attn_q.weight", {d, q}, &L.wq);
            want(p + "attn_k.weight", {d, kv}, &L.wk);
            want(p + "attn_v.weight", {d, kv}, &L.wv);
        }
        want(p + "attn_output.weight", {q, d}, &L.wo);
        if (cfg.qkv_bias) {
            want(p + "attn_q.bias", {q}, &L.bq);
            want(p + "attn_k.bias", {kv}, &L.bk);
            want(p + "attn_v.bias", {kv}, &L.bv);
        }
        if (cfg.qk_norm) {
            want(p + "attn_q_norm.weight", {hd}, &L.q_norm);
            want(p + "attn_k_norm.weight", {hd}, &L.k_norm);
        }
        if (cfg.post_norms) want(p + "post_attention_norm.weight", {d}, &L.post_attn_norm);
        want(p + "ffn_norm.weight", {d}, &L.ffn_norm);
        if (cfg.is_moe()) {
            want(p + "ffn_gate_inp.weight", {d, E}, &L.gate_inp);
            want(p + "ffn_gate_exps.weight", {d, fe, E}, &L.gate_exps);
            want(p + "ffn_up_exps.weight", {d, fe, E}, &L.up_exps);
            want(p + "ffn_down_exps.weight", {fe, d, E}, &L.down_exps);
        } else if (cfg.arch == "phi3") {  // gate|up fused in ffn_up: the first half is the gate
            want(p + "ffn_up.weight", {d, 2 * ff}, &L.w_gate_up);
            want(p + "ffn_down.weight", {ff, d}, &L.w_down);
        } else {
            want(p + "ffn_gate.weight", {d, ff}, &L.w_gate);
            want(p + "ffn_up.weight", {d, ff}, &L.w_up);
            want(p + "ffn_down.weight", {ff, d}, &L.w_down);
        }
        if (cfg.post_norms) want(p + "post_ffw_norm.weight", {d}, &L.post_ffn_norm);
    }
    // auto: the file's blocks where the backend prefers them and the file has any; else expanded
    // when that fits comfortably, and the blocks otherwise (backend.h).
    auto has_blocks = [](const auto& e) { return block_dtype(e.first->type).has_value(); };
    if (ws == weight_storage::automatic && be.prefers_native_weights() && std::any_of(infos.begin(), infos.end(), has_blocks))
        ws = weight_storage::native;
    if (ws == weight_storage::automatic) {
        size_t expanded = 0;
        for (const auto& [t, dst] : infos) expanded += size_t(t->n_elements()) * dtype_size(be.compute_dtype());
        ws = resolve_weight_storage(ws, be.compute_dtype(), expanded, be.info().free_memory);
    }
    m->storage_ = ws;
    size_t need = 0;
    for (const auto& [t, dst] : infos)
        need += size_t(t->n_rows()) * dtype_row_bytes(be.weight_dtype(t->type, t->row_length(), ws), t->row_length());
    const device_info di = be.info();
    const std::string name = f.path().empty() ? cfg.name : f.path().substr(f.path().find_last_of('/') + 1);
    const std::string stored = ws == weight_storage::native ? "stored natively" : weight_storage_name(ws);
    if (auto why = weights_fit(need, di.free_memory, di.kind, stored, name); !why.empty())
        RL_THROW(why);

    // Upload; tensors are [out_features, in_features] on the backend (experts stacked in rows).
    for (const auto& [t, dst] : infos) {
        *dst = be.upload_weight(*t, ws);
        m->weight_bytes_ += dst->bytes();
    }
    if (cfg.tied_embeddings) m->lm_head_ = m->tok_embd_;
    for (layer_weights& L : m->layers_) {
        if (L.wqkv.data) {
            L.wq = row_view(L.wqkv, 0, q);
            L.wk = row_view(L.wqkv, q, kv);
            L.wv = row_view(L.wqkv, q + kv, kv);
        }
        if (L.w_gate_up.data) {
            L.w_gate = row_view(L.w_gate_up, 0, ff);
            L.w_up = row_view(L.w_gate_up, ff, ff);
        }
    }
    m->inv_freq_ = cfg.rope_inv_freq();
    m->inv_freq_swa_ = cfg.rope_inv_freq_swa();
    return m;
}

llama_model::~llama_model() {
    if (!cfg_.tied_embeddings) be_.release(lm_head_);
    for (tensor* t : {&tok_embd_, &out_norm_, &x_, &xn_, &q_, &k_, &v_, &attn_, &proj_, &post_, &gate_, &up_, &act_,
                      &last_, &last_norm_, &logits_})
        be_.release(*t);
    for (auto& L : layers_)
        for (const tensor* t : L.owned()) be_.release(const_cast<tensor&>(*t));
}

size_t llama_model::matmul_weight_bytes() const {
    size_t b = lm_head_.bytes();
    for (const auto& L : layers_) {
        for (const tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down, &L.gate_inp}) b += t->bytes();
    }
    return b;
}

size_t llama_model::expert_weight_bytes() const {
    size_t b = 0;
    for (const auto& L : layers_) b += L.gate_exps.bytes() + L.up_exps.bytes() + L.down_exps.bytes();
    return b;
}

std::string llama_model::weight_types() const {
    std::map<std::string, size_t> by;
    auto add = [&](const tensor& t) { by[dtype_name(t.type)] += t.bytes(); };
    add(tok_embd_);
    add(out_norm_);
    if (!cfg_.tied_embeddings) add(lm_head_);
    for (const auto& L : layers_)
        for (const tensor* t : L.owned())
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

} // namespace rl
