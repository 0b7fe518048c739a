// llama_model.cpp: the forward pass as a sequence of backend ops, the same code on every backend:
// the llama/qwen2 layer (with its fused forms on backends that fuse) and the family branches
// (q/k norms, gemma3's scaled embedding, post norms and GeGLU, experts, sliding windows). Checked
// end to end against llama.cpp by test_golden and test_families.
#include "model/llama_model.h"

#include "common/engine_error.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <cmath>
#include <string>

namespace rl {
namespace {

tensor rows_view(const tensor& t, int64_t rows) {
    tensor v = t;
    v.rows = rows;
    return v;
}

} // namespace

kv_cache_layout llama_model::kv_layout_for(int num_blocks, int block_size) const {
    return kv_cache_layout{cfg_.n_layers, num_blocks + 1, block_size, cfg_.n_kv_heads, cfg_.head_dim};
}

void llama_model::ensure_scratch(int n_tokens, int n_logits) {
    const dtype t = be_.compute_dtype();
    if (n_tokens > scratch_tokens_) {
        // Grow geometrically so a sequence of slightly larger steps does not reallocate each time.
        const int n = std::max(n_tokens, scratch_tokens_ * 3 / 2);
        for (tensor* s : {&x_, &xn_, &q_, &k_, &v_, &attn_, &proj_, &post_, &gate_, &up_, &act_}) be_.release(*s);
        x_ = be_.alloc(n, cfg_.d_model, dtype::f32);  // [n, d] residual stream, f32 everywhere
        xn_ = be_.alloc(n, cfg_.d_model, t);      // [n, d] normed
        q_ = be_.alloc(n, cfg_.q_dim(), t);       // [n, n_heads*head_dim]
        k_ = be_.alloc(n, cfg_.kv_dim(), t);      // [n, n_kv_heads*head_dim]
        v_ = be_.alloc(n, cfg_.kv_dim(), t);
        attn_ = be_.alloc(n, cfg_.q_dim(), t);    // [n, n_heads*head_dim]
        proj_ = be_.alloc(n, cfg_.d_model, t);    // [n, d]
        if (cfg_.post_norms) post_ = be_.alloc(n, cfg_.d_model, t);  // [n, d] normed sublayer output
        gate_ = be_.alloc(n, cfg_.d_ff, t);       // [n, d_ff] (MoE layers use their own)
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
    // Decode-only steps issue the same ops over the same buffers for a given shape: the backend
    // may record them once and replay (CUDA graphs); the step's data travels in set_step. The
    // batch is padded to the backend's capture size first, so a wandering batch size reuses a
    // few recordings; the padding rows' logits stay behind (out has the real rows only).
    // Only where every row wants its logits: a one-token chunk mid-prefill wants none, and
    // (rows, logit rows) pairs of every split would each need their own recording.
    // Expert layers read their routing on the host mid-step (cuda_moe.cpp): never recorded.
    const int rows = decode_only && nl == n && !cfg_.is_moe() ? be_.graph_rows(n) : 0;
    const step_input& step = rows > n ? pad_step(in, rows) : in;
    const int ns = step.n_tokens(), nls = static_cast<int>(step.logit_rows.size());
    ensure_scratch(ns, std::max(nls, 1));
    be_.set_step(step);
    if (cfg_.is_moe()) {   // count this step's experts only; a replayed recording counts none (-1)
        be_.take_experts_run();
        last_experts_read_ = -1;
    }
    const tensor out = rows_view(logits_, nl);
    uint64_t key = reinterpret_cast<uintptr_t>(this) * 0x9E3779B97F4A7C15ull;  // per model, per shape
    key ^= (uint64_t(uint32_t(ns)) << 32 | uint64_t(uint32_t(nls))) * 0xBF58476D1CE4E5B9ull;
    if (rows > 0 && be_.graph_replay(key)) return out;
    const bool recording = rows > 0 && be_.graph_begin(key);
    try {
        run_ops(step);
    } catch (...) {
        if (recording) be_.graph_abort();
        throw;
    }
    if (cfg_.is_moe()) last_experts_read_ = double(be_.take_experts_run());
    if (recording) be_.graph_end();
    return out;
}

const step_input& llama_model::pad_step(const step_input& in, int rows) {
    const int pad_block = be_.kv_layout().num_blocks - 1;
    for (const seq_slice& s : in.seqs)  // a pool not sized by kv_layout_for has no spare block
        RL_CHECK(std::find(s.block_table.begin(), s.block_table.end(), pad_block) == s.block_table.end(),
                 "forward: block " + std::to_string(pad_block) +
                     " is the padding block (the pool's last); allocate the pool with kv_layout_for");
    padded_ = in;  // assignment reuses the vectors' capacity
    for (int r = in.n_tokens(); r < rows; ++r) {
        padded_.tokens.push_back(0);
        padded_.positions.push_back(0);
        seq_slice s;
        s.token_begin = r;
        s.n_tokens = 1;
        s.block_table.assign(1, pad_block);
        padded_.seqs.push_back(std::move(s));
        padded_.logit_rows.push_back(r);
    }
    return padded_;
}

void llama_model::run_ops(const step_input& in) {
    const int n = in.n_tokens();
    const int nl = static_cast<int>(in.logit_rows.size());
    const float eps = cfg_.norm_eps;
    tensor x = rows_view(x_, n), xn = rows_view(xn_, n), q = rows_view(q_, n), k = rows_view(k_, n),
           v = rows_view(v_, n), attn = rows_view(attn_, n), proj = rows_view(proj_, n), post = rows_view(post_, n),
           gate = rows_view(gate_, n), up = rows_view(up_, n), act = rows_view(act_, n);
    // q and k seen as one row per head, for the per-head norms: [n*heads, head_dim]
    tensor qh = q, kh = k;
    qh.rows = int64_t(n) * cfg_.n_heads, qh.cols = cfg_.head_dim;
    kh.rows = int64_t(n) * cfg_.n_kv_heads, kh.cols = cfg_.head_dim;
    const backend::moe_params moe{cfg_.n_experts, cfg_.n_experts_used, cfg_.d_ff_expert, true};

    be_.embed(tok_embd_, x);  // x [n, d] f32
    if (cfg_.embed_scale != 1.f) be_.scale(x, cfg_.embed_scale);
    // Two orders of the same ops: with fusing backends (decode at few rows on CUDA) the norms and
    // residual adds ride inside the products; otherwise one add_rms_norm pass per sublayer. The
    // fused forms know only the llama/qwen2 layer.
    const bool plain = !cfg_.qk_norm && !cfg_.post_norms && !cfg_.is_moe() && cfg_.act == ffn_activation::silu;
    const bool fused = plain && be_.fuses_residual(n);
    if (!fused) be_.rms_norm(x, layers_[0].attn_norm, eps, xn);
    for (int l = 0; l < cfg_.n_layers; ++l) {
        const layer_weights& L = layers_[size_t(l)];
        const bool windowed = cfg_.windowed(l);
        const std::vector<float>* freq = windowed ? &inv_freq_swa_ : &inv_freq_;
        const rope_params rq{cfg_.n_heads, cfg_.head_dim, cfg_.rope_dim, cfg_.rope_neox, freq};
        const rope_params rk{cfg_.n_kv_heads, cfg_.head_dim, cfg_.rope_dim, cfg_.rope_neox, freq};
        const tensor* qkv_w[] = {&L.wq, &L.wk, &L.wv};
        tensor* qkv_out[] = {&q, &k, &v};
        // q [n, q_dim], k and v [n, kv_dim]; then q rotated, rotated k and v into the pool
        if (fused && !cfg_.qkv_bias) {
            be_.norm_qkv_rope_kv_store(l, x, L.attn_norm, eps, xn, qkv_w, qkv_out, rq, rk);
        } else {
            if (fused) be_.norm_matmuls(x, L.attn_norm, eps, xn, qkv_w, qkv_out);
            else be_.matmuls(xn, qkv_w, qkv_out);  // xn holds rms_norm(x) * attn_norm here
            if (cfg_.qkv_bias) {
                be_.add_bias(q, L.bq);
                be_.add_bias(k, L.bk);
                be_.add_bias(v, L.bv);
            }
            if (cfg_.qk_norm) {  // each head normed over head_dim, in place, before RoPE
                be_.rms_norm(qh, L.q_norm, eps, qh);
                be_.rms_norm(kh, L.k_norm, eps, kh);
            }
            be_.rope_kv_store(l, q, k, v, rq, rk);
        }
        be_.attention(l, q, attn, cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim, cfg_.softmax_scale(),
                      windowed ? cfg_.sliding_window : 0);  // [n, q_dim]
        if (fused) {
            be_.matmul_add(attn, L.wo, proj, x);  // x += attn . wo^T
            be_.norm_gate_up_silu(x, L.ffn_norm, eps, xn, L.w_gate, L.w_up, gate, up, act);
            be_.matmul_add(act, L.w_down, proj, x);
            continue;
        }
        be_.matmul(attn, L.wo, proj);  // [n, d]
        if (cfg_.post_norms) be_.rms_norm(proj, L.post_attn_norm, eps, post);
        be_.add_rms_norm(x, cfg_.post_norms ? post : proj, L.ffn_norm, eps, xn);  // x += ...; xn = norm(x)
        if (cfg_.is_moe()) {
            be_.moe_ffn(xn, L.gate_inp, L.gate_exps, L.up_exps, L.down_exps, moe, proj);  // [n, d]
        } else {
            if (cfg_.act == ffn_activation::gelu_tanh) {
                const tensor* w[] = {&L.w_gate, &L.w_up};
                tensor* o[] = {&gate, &up};
                be_.matmuls(xn, w, o);
                be_.gelu_mul(gate, up, act);  // act = gelu(xn.w_gate^T) * xn.w_up^T
            } else {
                be_.gate_up_silu(xn, L.w_gate, L.w_up, gate, up, act);  // act = silu(xn.w_gate^T) * xn.w_up^T
            }
            be_.matmul(act, L.w_down, proj);  // [n, d]
        }
        if (cfg_.post_norms) be_.rms_norm(proj, L.post_ffn_norm, eps, post);
        const tensor& y = cfg_.post_norms ? post : proj;
        if (l + 1 < cfg_.n_layers) be_.add_rms_norm(x, y, layers_[size_t(l) + 1].attn_norm, eps, xn);
        else be_.add(x, y);
    }
    if (nl == 0) return;
    // Only the rows whose logits are wanted go through the final norm and the (large) LM head.
    tensor last = rows_view(last_, nl), last_norm = rows_view(last_norm_, nl), out = rows_view(logits_, nl);
    be_.gather_logit_rows(x, last);                     // [nl, d] f32
    be_.rms_norm(last, out_norm_, eps, last_norm);      // [nl, d]
    be_.matmul(last_norm, lm_head_, out);               // [nl, vocab] f32
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
