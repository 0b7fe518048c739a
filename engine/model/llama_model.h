// llama_model: the weights of a llama-family model on a backend, and its forward pass expressed
// as backend calls (the same code drives the CPU reference and the CUDA backend). The family
// features of model_config (q/k norms, post norms, GeGLU, experts, sliding windows) are branches
// of the one layer loop. Loading lives in llama_model_load.cpp.
#pragma once
#include "backend/backend.h"
#include "model/model_config.h"
#include <memory>
#include <string>
#include <vector>

namespace rl {

struct row_sampling;

class gguf_file;

struct layer_weights {
    tensor attn_norm, wq, wk, wv, wo, bq, bk, bv;  // b* only with qkv_bias
    tensor ffn_norm, w_gate, w_up, w_down;
    // Fused storage (attn_qkv, phi3's gate|up ffn_up): wq/wk/wv and w_gate/w_up are then row views
    // into these, which own the memory.
    tensor wqkv, w_gate_up;
    tensor q_norm, k_norm;                   // qk_norm: [1, head_dim], shared by the heads
    tensor post_attn_norm, post_ffn_norm;    // post_norms (gemma3)
    // MoE: router [E, d]; experts stacked, gate/up [E*d_ff_expert, d], down [E*d, d_ff_expert]
    tensor gate_inp, gate_exps, up_exps, down_exps;
    /// The tensors this layer owns (not the views), for release and accounting.
    std::vector<const tensor*> owned() const;
};

class llama_model {
public:
    /// Validates tensor shapes against the config and uploads every weight to the backend.
    /// Throws engine_error naming the first missing or mis-shaped tensor.
    /// ws: how the backend keeps the weights (native block formats, or expanded; backend.h).
    static std::unique_ptr<llama_model> load(const gguf_file& f, backend& be,
                                             weight_storage ws = weight_storage::automatic);
    /// Random weights at the shape of `cfg` (see model/synthetic.h), filled on the backend: in the
    /// compute dtype, or as random blocks of the synthetic quant mix `quant` ("q4_k_m", ...).
    static std::unique_ptr<llama_model> synthetic(const model_config& cfg, backend& be, uint64_t seed = 1,
                                                  const std::string& quant = "");
    /// synthetic:NAME[:QUANT] (name without the prefix) under a weight storage: the one place that
    /// parses the name and refuses a storage the model or backend cannot have.
    static std::unique_ptr<llama_model> synthetic_named(const std::string& name, backend& be, weight_storage ws);
    ~llama_model();

    const model_config& config() const { return cfg_; }
    backend& get_backend() { return be_; }
    size_t weight_bytes() const { return weight_bytes_; }   // as stored on the backend
    weight_storage storage() const { return storage_; }     // as resolved (never automatic)
    /// Bytes of the weights every step streams through a matmul (all layers' q, k, v, o, gate,
    /// up, down and the LM head), as stored: the cost model's weight traffic.
    size_t matmul_weight_bytes() const;
    /// Bytes of every layer's stacked experts (0 without experts): a step reads those its tokens
    /// chose (last_experts_read).
    size_t expert_weight_bytes() const;
    /// (layer, expert) pairs the last step ran, summed over layers: the union of the experts its
    /// tokens were routed to. 0 without experts; -1 when the backend does not count them.
    double last_experts_read() const { return last_experts_read_; }
    /// True when the layers' projections are in GGUF block formats (native weights).
    bool block_matmuls() const { return !layers_.empty() && is_quantized(layers_[0].wq.type); }
    /// The weights' storage types, most bytes first: "q4_k 3.1 GiB, q6_k 0.8 GiB, bf16 ...".
    std::string weight_types() const;

    /// One forward step over a mixed batch (prefill chunks and decodes, see step_input).
    /// Writes host fp32 logits [in.logit_rows.size(), vocab_size] into `logits`.
    /// The KV pool must have been allocated (backend::alloc_kv) with this model's shape.
    void forward(const step_input& in, std::vector<float>& logits);
    /// The same step, but only the greedy token of each logit row comes back (ids[i] = argmax of
    /// logit row i, reduced on the backend): no [rows, vocab] download.
    void forward_greedy(const step_input& in, std::vector<int32_t>& ids);
    /// The step, then one draw per logit row under p (backend::sample_rows; on the GPU only the
    /// ids come back).
    void forward_sample(const step_input& in, const std::vector<row_sampling>& p, std::vector<int32_t>& ids);

    /// The pool for num_blocks blocks of sequence KV, plus one block at the end that only the
    /// padding rows of recorded decode steps write (backend::graph_rows).
    kv_cache_layout kv_layout_for(int num_blocks, int block_size) const;

private:
    llama_model(const model_config& cfg, backend& be) : cfg_(cfg), be_(be) {}
    double last_experts_read_ = 0;
    void ensure_scratch(int n_tokens, int n_logits);
    /// Runs the step; returns the device logits [in.logit_rows.size(), vocab] (rows == 0: none).
    /// Decode-only steps are recorded once per (batch, logit rows) and replayed (backend graphs).
    tensor run_step(const step_input& in);
    void run_ops(const step_input& in);
    /// `in` with rows appended up to `rows`: single-token sequences at position 0 that write the
    /// pool's last block (kv_layout_for keeps it out of the block manager's pool).
    const step_input& pad_step(const step_input& in, int rows);

    model_config cfg_;
    backend& be_;
    std::vector<float> inv_freq_, inv_freq_swa_;  // [rope_dim/2]: global layers, windowed layers
    tensor tok_embd_, out_norm_, lm_head_;  // lm_head_ aliases tok_embd_ when tied
    std::vector<layer_weights> layers_;
    size_t weight_bytes_ = 0;
    weight_storage storage_ = weight_storage::native;
    // activation scratch, grown on demand. x_ (the residual stream) and last_ are f32 on every
    // backend; the others are in the compute dtype; logits_ is f32.
    int scratch_tokens_ = 0, scratch_logits_ = 0;
    step_input padded_;  // pad_step's result, kept so its vectors keep their capacity
    tensor x_, xn_, q_, k_, v_, attn_, proj_, post_, gate_, up_, act_, last_, last_norm_, logits_;
};

} // namespace rl
