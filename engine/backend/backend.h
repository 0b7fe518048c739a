// backend: the interface every compute backend implements (cpu_backend is the fp32 reference;
// cuda_backend comes later). The llama forward pass in model/ is written only against it.
// A step is: set_step(inputs) once, then a sequence of ops; activations are 2-D row-major tensors.
#pragma once
#include "backend/random_uniform.h"
#include "gguf/ggml_types.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rl {

struct gguf_tensor_info;
struct row_sampling;

/// Element types of backend tensors: plain floats, and the GGUF block formats a backend may keep
/// weights in (native weights: ggml's block layouts byte for byte, engine/gguf/dequant.cpp).
enum class dtype { f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k };
/// Bytes of one element of a plain float type; throws for a block format (use dtype_row_bytes).
size_t dtype_size(dtype t);
bool is_quantized(dtype t);
/// Bytes of a row of n elements (n a whole number of blocks for a block format).
size_t dtype_row_bytes(dtype t, int64_t n);
const char* dtype_name(dtype t);  // "bf16", "q4_k"
ggml_type to_ggml_type(dtype t);
/// The block dtype of a GGUF type a backend may keep natively; nullopt for plain floats and for
/// block formats no backend computes on (q2_k, q3_k, q8_k...).
std::optional<dtype> block_dtype(ggml_type t);

/// How weights are kept on a backend: native keeps a GGUF file's block formats where the
/// backend computes on them (q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k, on CUDA and the CPU), bf16
/// and f32 expand every weight at load. automatic (the default) keeps the blocks on the CPU
/// (backend::prefers_native_weights); on the GPU it expands to the compute dtype when that fits in
/// three quarters of the free memory, and keeps the blocks otherwise: the expanded path is still
/// the faster one there (docs/performance.md), and native is what lets a larger model load at all.
enum class weight_storage { automatic, native, bf16, f32 };
/// "auto", "native", "bf16", "f32"; parse returns false for anything else.
const char* weight_storage_name(weight_storage w);
bool parse_weight_storage(const std::string& s, weight_storage& out);
/// automatic resolved: the expanded storage of a backend computing in `compute` when
/// `expanded_bytes` fit in 3/4 of `free_bytes` (0 = unknown: fits), else native; others as given.
weight_storage resolve_weight_storage(weight_storage ws, dtype compute, size_t expanded_bytes, size_t free_bytes);

/// A 2-D row-major tensor in backend memory: rows x cols, contiguous.
struct tensor {
    void* data = nullptr;
    dtype type = dtype::f32;
    int64_t rows = 0;
    int64_t cols = 0;
    size_t bytes() const { return static_cast<size_t>(rows) * dtype_row_bytes(type, cols); }
    int64_t numel() const { return rows * cols; }
};

struct device_info {
    std::string kind;              // "cpu" or "cuda"
    std::string name;              // CPU model or GPU name
    int compute_units = 0;         // threads or SMs
    size_t total_memory = 0;       // bytes
    size_t free_memory = 0;        // bytes, at the time of the call
};

/// The paged KV pool: per layer, K and V each [num_blocks, block_size, n_kv_heads, head_dim].
struct kv_cache_layout {
    int n_layers = 0;
    int num_blocks = 0;
    int block_size = 16;
    int n_kv_heads = 0;
    int head_dim = 0;
};

/// One sequence's slice of a step: batch rows [token_begin, token_begin + n_tokens) are its
/// positions [start_pos, start_pos + n_tokens). Its KV for positions 0 .. start_pos+n_tokens-1
/// lives in the physical blocks of block_table (logical block i -> block_table[i]).
struct seq_slice {
    int token_begin = 0;
    int n_tokens = 0;
    int start_pos = 0;
    std::vector<int32_t> block_table;
    int context_len() const { return start_pos + n_tokens; }
};

struct step_input {
    std::vector<int32_t> tokens;      // [n_tokens], sequences concatenated
    std::vector<int32_t> positions;   // [n_tokens]
    std::vector<seq_slice> seqs;
    std::vector<int32_t> logit_rows;  // batch rows whose logits are wanted, in output order
    /// > 0 when every layer attends within this many positions and the scheduler frees the blocks
    /// left behind: a table entry may then be -1 for a block whose positions all lie before its
    /// sequence's start_pos - kv_window + 1, and attention() must be asked for windows <= this.
    int kv_window = 0;
    int n_tokens() const { return static_cast<int>(tokens.size()); }
};

struct rope_params {
    int n_heads = 0;
    int head_dim = 0;
    int rope_dim = 0;
    bool neox = false;
    const std::vector<float>* inv_freq = nullptr;  // [rope_dim/2]
};

class backend {
public:
    virtual ~backend() = default;
    virtual std::string name() const = 0;
    virtual device_info info() const = 0;
    virtual dtype compute_dtype() const = 0;

    // --- memory -------------------------------------------------------------------------
    virtual tensor alloc(int64_t rows, int64_t cols, dtype t) = 0;
    virtual void release(tensor& t) = 0;
    virtual void upload(const tensor& dst, const float* src) = 0;    // host fp32 -> dst's dtype
    virtual void download(const tensor& src, float* dst) = 0;        // dst's dtype -> host fp32
    /// Uploads a GGUF weight as [n_rows, row_length]: in the compute dtype (dequantizing), or
    /// under weight_storage::native in its file format where the backend computes on it.
    /// Throws engine_error for a storage the backend does not offer.
    virtual tensor upload_weight(const gguf_tensor_info& t, weight_storage ws = weight_storage::native) = 0;
    /// The dtype upload_weight would keep a weight of GGUF type t and row length cols in (the
    /// memory check before loading reads it); throws engine_error for a storage not offered.
    virtual dtype weight_dtype(ggml_type t, int64_t cols, weight_storage ws) const = 0;
    /// Products of more rows than this expand block-format weights to the compute dtype first
    /// (the cost model counts that traffic); 0 = never (no block-format weights, or never expanded).
    virtual int block_weights_expand_above() const { return 0; }
    /// Whether weight_storage::automatic keeps a GGUF file's block formats on this backend (the CPU,
    /// whose integer kernels beat fp32 on the bandwidth that decode is bound by); otherwise auto
    /// goes by memory (resolve_weight_storage).
    virtual bool prefers_native_weights() const { return false; }
    /// Allocates (or re-allocates) the paged KV pool. Throws engine_error if it does not fit.
    virtual void alloc_kv(const kv_cache_layout& layout) = 0;
    virtual const kv_cache_layout& kv_layout() const = 0;

    // --- one step -----------------------------------------------------------------------
    virtual void set_step(const step_input& in) = 0;
    virtual void embed(const tensor& table /*[V,d]*/, tensor& out /*[n,d]*/) = 0;
    virtual void rms_norm(const tensor& x /*[n,d]*/, const tensor& w /*[1,d]*/, float eps, tensor& out) = 0;
    virtual void add(tensor& x, const tensor& y) = 0;  // x += y, same shape
    /// x += y, then out = rms_norm(x) * w. The default is add() then rms_norm(); backends may fuse.
    /// x (the residual stream) may be kept in f32 while y and out are in the compute dtype.
    virtual void add_rms_norm(tensor& x, const tensor& y, const tensor& w, float eps, tensor& out) {
        add(x, y);
        rms_norm(x, w, eps, out);
    }
    virtual void matmul(const tensor& x /*[n,k]*/, const tensor& w /*[m,k]*/, tensor& out /*[n,m]*/) = 0;
    virtual void add_bias(tensor& x /*[n,m]*/, const tensor& b /*[1,m]*/) = 0;

    // --- fused forms (the defaults compose the ops above; backends may fuse) -------------
    /// out[i] = x . w[i]^T for products that share x (q, k, v; gate, up): one pass over x.
    virtual void matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out);
    /// gate = x . w_gate^T, up = x . w_up^T, act = silu(gate) * up. A fused backend may write
    /// act alone (gate and up are then unspecified).
    virtual void gate_up_silu(const tensor& x, const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up,
                              tensor& act) {
        const tensor* w[] = {&w_gate, &w_up};
        tensor* out[] = {&gate, &up};
        matmuls(x, w, out);
        silu_mul(gate, up, act);
    }
    /// out[i] = (rms_norm(x) * norm_w) . w[i]^T, x the residual stream: the norm folded into the
    /// products that read it. xn receives the normalised rows when the backend composes
    /// (rms_norm, then matmuls); a fusing backend may leave it unwritten.
    virtual void norm_matmuls(const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                              std::span<const tensor* const> w, std::span<tensor* const> out) {
        rms_norm(x, norm_w, eps, xn);
        matmuls(xn, w, out);
    }
    /// gate_up_silu of rms_norm(x) * norm_w, with xn as in norm_matmuls.
    virtual void norm_gate_up_silu(const tensor& x, const tensor& norm_w, float eps, tensor& xn, const tensor& w_gate,
                                   const tensor& w_up, tensor& gate, tensor& up, tensor& act) {
        rms_norm(x, norm_w, eps, xn);
        gate_up_silu(xn, w_gate, w_up, gate, up, act);
    }
    /// x += a . w^T, x the residual stream; tmp receives the product when the backend composes.
    virtual void matmul_add(const tensor& a, const tensor& w, tensor& tmp, tensor& x) {
        matmul(a, w, tmp);
        add(x, tmp);
    }
    /// True when norm_matmuls, norm_gate_up_silu and matmul_add fuse for steps of n_rows rows, so
    /// a layer should use them instead of add_rms_norm (which saves a pass when they do not).
    virtual bool fuses_residual(int64_t /*n_rows*/) const { return false; }
    /// rope(q, rq); rope(k, rk); kv_store(layer, k, v). Afterwards k's contents are unspecified
    /// (a fused backend may write the rotated k to the pool only).
    virtual void rope_kv_store(int layer, tensor& q, tensor& k, const tensor& v, const rope_params& rq,
                               const rope_params& rk) {
        rope(q, rq);
        rope(k, rk);
        kv_store(layer, k, v);
    }
    /// norm_matmuls(x, norm_w, eps, xn, {wq, wk, wv}, {q, k, v}), then rope_kv_store(layer, q, k,
    /// v, rq, rk): a layer's attention input in one call, so a fusing backend can rotate and store
    /// in the products' epilogue (no bias may come between).
    virtual void norm_qkv_rope_kv_store(int layer, const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                                        std::span<const tensor* const> w, std::span<tensor* const> out,
                                        const rope_params& rq, const rope_params& rk) {
        norm_matmuls(x, norm_w, eps, xn, w, out);
        rope_kv_store(layer, *out[0], *out[1], *out[2], rq, rk);
    }
    virtual void rope(tensor& x /*[n, n_heads*head_dim]*/, const rope_params& p) = 0;
    /// Writes this step's K and V rows ([n, n_kv_heads*head_dim]) into the pool at their positions.
    virtual void kv_store(int layer, const tensor& k, const tensor& v) = 0;
    /// Causal attention of q [n, n_heads*head_dim] over each sequence's cached KV -> out (same shape).
    /// window > 0: a query at position p sees only keys at positions > p - window (sliding-window
    /// layers; llama.cpp's LLAMA_SWA_TYPE_STANDARD mask).
    virtual void attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads,
                           int head_dim, float scale, int window = 0) = 0;
    virtual void silu_mul(const tensor& gate, const tensor& up, tensor& out) = 0;  // out = silu(gate) * up
    /// out = gelu(gate) * up, GELU in its tanh form (Gemma's GeGLU).
    virtual void gelu_mul(const tensor& gate, const tensor& up, tensor& out) = 0;
    virtual void scale(tensor& x, float s) = 0;  // x *= s
    /// The routed-expert FFN of a mixture-of-experts layer, for the rows of x [n, d] (normed):
    /// router logits x . gate_inp^T [n, n_experts], softmax, the top n_used experts per row, their
    /// probabilities renormalised to sum 1 when p.norm_weights, then
    /// out[r] = sum_e w_e * down_e(silu(gate_e . x[r]) * (up_e . x[r])). The expert weights are
    /// stacked: gate_exps and up_exps [n_experts * d_ff, d], down_exps [n_experts * d, d_ff].
    struct moe_params {
        int n_experts = 0;
        int n_used = 0;
        int d_ff = 0;
        bool norm_weights = true;
    };
    virtual void moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
                         const tensor& down_exps, const moe_params& p, tensor& out) = 0;
    /// The experts moe_ffn ran since the last call (each call: those with at least one row routed
    /// to them), summed over calls, then reset: the cost model's expert bytes. -1: not counted.
    virtual int64_t take_experts_run() { return -1; }
    /// out[i] = x[step.logit_rows[i]]
    virtual void gather_logit_rows(const tensor& x, tensor& out) = 0;
    virtual void synchronize() = 0;
    /// ids[i] = index of the largest value of row i of x (the first one on ties; NaNs ignored).
    /// The default downloads x; backends may reduce on the device and copy back only the ids.
    virtual void argmax_rows(const tensor& x, std::vector<int32_t>& ids);
    /// ids[i] = the token drawn from row i of x (f32 logits) under p[i], by the rule of
    /// backend/row_sampling.h. The default downloads x and runs the host reference.
    virtual void sample_rows(const tensor& x, const std::vector<row_sampling>& p, std::vector<int32_t>& ids);
    /// True when sample_rows runs on the device, so only token ids cross to the host.
    virtual bool samples_on_device() const { return false; }

    // --- optional: device-side timing ----------------------------------------------------
    /// Times the device work queued between timer_begin() and timer_end_s() (CUDA events on the
    /// backend's stream), to set next to the host's wall clock. timer_end_s waits for that work
    /// and returns seconds, or -1 when the backend has no device timer (the CPU backend).
    virtual void timer_begin() {}
    virtual double timer_end_s() { return -1; }

    // --- optional: replay of a recorded step (CUDA graphs) ---------------------------------
    // A caller that issues the same op sequence over the same tensors for every step with the
    // same `key` (after set_step) may ask for it to be recorded once and replayed. Protocol:
    //   if (!graph_replay(key)) { bool rec = graph_begin(key); <ops>; if (rec) graph_end(); }
    // graph_replay: launches the recorded ops for `key` and returns true, or returns false.
    // graph_begin: true when it started recording (the ops are then only recorded, and
    // graph_end runs them); graph_abort discards a recording after an exception. Any release()
    // or alloc_kv() forgets every recording. The defaults record nothing.
    // graph_rows: the row count a decode-only step of n rows (one token per sequence) is
    // padded to before it is recorded or replayed, so that few recordings serve every batch
    // size; 0 = run this step eagerly (the default: the backend records nothing).
    virtual int graph_rows(int /*n*/) const { return 0; }
    virtual bool graph_replay(uint64_t /*key*/) { return false; }
    virtual bool graph_begin(uint64_t /*key*/) { return false; }
    virtual void graph_end() {}
    virtual void graph_abort() noexcept {}

    /// Fills t with uniform values in [lo, hi) from a counter-based hash of (seed, index), so
    /// every backend produces the same numbers. Synthetic models use it. The default goes
    /// through a host buffer; backends may override it with a device kernel.
    virtual void fill_random(tensor& t, uint64_t seed, float lo, float hi);
};

/// The capture sizes of decode recordings: n rounded up to 1, 2, 4, a multiple of 8 up to 128,
/// of 16 up to 256, of 32 beyond; 0 when n < 1 or the rounded size exceeds max_rows (eager).
/// vLLM pads its CUDA-graph batches the same way, for the same reason.
int graph_capture_rows(int n, int max_rows);

/// "[rows, cols]", for error messages.
std::string shape_of(const tensor& t);
/// The argument checks every backend's attention() makes (heads, pool layout, q/out shapes for a
/// step of n_tokens); throws engine_error naming what disagrees.
void check_attention_args(const tensor& q, const tensor& out, int n_heads, int n_kv_heads, int head_dim,
                          int n_tokens, const kv_cache_layout& kv);

} // namespace rl
