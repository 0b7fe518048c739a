// cuda_backend_impl.h: the CUDA backend's class, private to engine/backend/cuda/ (the engine sees
// only make_cuda_backend in cuda_backend.h). Its methods are split over
// cuda_backend.cpp (construction, the step ops) and cuda_backend_memory.cpp (allocation,
// transfers, weights, the KV pool).
#pragma once
#include "backend/cuda/cuda_backend.h"
#include "backend/moe_route.h"
#include "backend/op_checks.h"

#include "common.cuh"
#include "kernels.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <unordered_map>
#include <utility>

namespace rl::cuda_detail {


inline uint16_t* bf(const tensor& t) { return static_cast<uint16_t*>(t.data); }
inline float* f32(const tensor& t) { return static_cast<float*>(t.data); }
inline bool is_f32(const tensor& t) { return t.type == dtype::f32; }

// A weight: bf16, or a block format the GEMV and dequant kernels take (native weights).
inline void check_weight(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cuda_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::bf16 || is_quantized(t.type),
             std::string("cuda_backend: ") + what + " must be bf16 or a GGUF block format, not " + dtype_name(t.type));
}

inline void check_bf16(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cuda_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::bf16, std::string("cuda_backend: ") + what + " must be bf16");
}

// Activations: bf16, or f32 (the residual stream, the logits).
inline void check_act(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cuda_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::bf16 || t.type == dtype::f32,
             std::string("cuda_backend: ") + what + " must be bf16 or f32");
}

class cuda_backend final : public backend {
public:
    explicit cuda_backend(int device);
    ~cuda_backend() override;

    std::string name() const override { return "cuda"; }
    device_info info() const override;
    dtype compute_dtype() const override { return dtype::bf16; }

    tensor alloc(int64_t rows, int64_t cols, dtype t) override;
    void release(tensor& t) override;
    void upload(const tensor& dst, const float* src) override;
    void download(const tensor& src, float* dst) override;
    void fill_random(tensor& t, uint64_t seed, float lo, float hi) override;
    tensor upload_weight(const gguf_tensor_info& t, weight_storage ws = weight_storage::native) override;
    dtype weight_dtype(ggml_type t, int64_t cols, weight_storage ws) const override;
    int block_weights_expand_above() const override;
    void alloc_kv(const kv_cache_layout& layout) override;
    const kv_cache_layout& kv_layout() const override { return kv_; }

    void set_step(const step_input& in) override;
    void embed(const tensor& table, tensor& out) override;
    void rms_norm(const tensor& x, const tensor& w, float eps, tensor& out) override;
    void add(tensor& x, const tensor& y) override;
    void add_rms_norm(tensor& x, const tensor& y, const tensor& w, float eps, tensor& out) override;
    void matmul(const tensor& x, const tensor& w, tensor& out) override;
    void add_bias(tensor& x, const tensor& b) override;
    void rope(tensor& x, const rope_params& p) override;
    void kv_store(int layer, const tensor& k, const tensor& v) override;
    void attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads, int head_dim,
                   float scale, int window = 0) override;
    void silu_mul(const tensor& gate, const tensor& up, tensor& out) override;
    void gelu_mul(const tensor& gate, const tensor& up, tensor& out) override;
    void scale(tensor& x, float s) override;
    void moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
                 const tensor& down_exps, const moe_params& p, tensor& out) override;  // cuda_moe.cpp
    int64_t take_experts_run() override { return std::exchange(experts_run_, 0); }
    // fused forms (cuda_fused.cpp): decode's few-row products go to gemv.cu, rope + store fuse
    void matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out) override;
    void gate_up_silu(const tensor& x, const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up,
                      tensor& act) override;
    void norm_matmuls(const tensor& x, const tensor& norm_w, float eps, tensor& xn, std::span<const tensor* const> w,
                      std::span<tensor* const> out) override;
    void norm_gate_up_silu(const tensor& x, const tensor& norm_w, float eps, tensor& xn, const tensor& w_gate,
                           const tensor& w_up, tensor& gate, tensor& up, tensor& act) override;
    void matmul_add(const tensor& a, const tensor& w, tensor& tmp, tensor& x) override;
    bool fuses_residual(int64_t n_rows) const override;
    void rope_kv_store(int layer, tensor& q, tensor& k, const tensor& v, const rope_params& rq,
                       const rope_params& rk) override;
    void norm_qkv_rope_kv_store(int layer, const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                                std::span<const tensor* const> w, std::span<tensor* const> out, const rope_params& rq,
                                const rope_params& rk) override;
    void gather_logit_rows(const tensor& x, tensor& out) override;
    void synchronize() override;
    void timer_begin() override;
    double timer_end_s() override;
    void argmax_rows(const tensor& x, std::vector<int32_t>& ids) override;
    void sample_rows(const tensor& x, const std::vector<row_sampling>& p, std::vector<int32_t>& ids) override;
    bool samples_on_device() const override { return true; }
    // CUDA graphs (cuda_graphs.cpp)
    int graph_rows(int n) const override;
    bool graph_replay(uint64_t key) override;
    bool graph_begin(uint64_t key) override;
    void graph_end() override;
    void graph_abort() noexcept override;

private:
    void use_device() const { RL_CUDA_CHECK(cudaSetDevice(device_)); }
    bool rope_fits_pool(const rope_params& rq, const rope_params& rk) const;  // cuda_fused.cpp
    void* device_alloc(size_t bytes, const std::string& what);
    void free_all() noexcept;
    void check_step_kv(int layer);  // validates this step's block tables against the pool
    kernels::paged_kv layer_kv(int layer) const;
    void forget_graphs() noexcept;  // after any buffer a recording may use goes away
    void upload_inv_freq(const std::vector<float>& f);  // rope frequencies, once per model
    void check_rope(const tensor& x, const rope_params& p) const;

    int device_;
    cudaStream_t stream_ = nullptr;
    std::unique_ptr<kernels::gemm_runner> gemm_;
    std::string name_;
    int sms_ = 0;

    kv_cache_layout kv_{};
    uint16_t* kv_pool_ = nullptr;  // per layer: K [num_blocks*block_size*n_kv_heads*head_dim], then V
    uint64_t kv_gen_ = 0;          // bumped by alloc_kv; a step's tables are checked per generation

    step_input step_;
    std::vector<int32_t> pack_buf_;  // host image of the packed step arrays (step_pack.h)
    uint64_t step_checked_gen_ = 0;
    int n_decode_ = 0, n_tiles_ = 0;
    int32_t* meta_h_ = nullptr;  // pinned staging of the packed step arrays
    int32_t* meta_d_ = nullptr;
    size_t meta_cap_ = 0;  // int32 elements in each
    cudaEvent_t meta_copied_ = nullptr;
    kernels::step_meta meta_{};
    const int32_t *tokens_d_ = nullptr, *logit_rows_d_ = nullptr, *decode_rows_d_ = nullptr, *tiles_d_ = nullptr;

    std::vector<float> inv_freq_h_;  // the rope frequencies last uploaded
    float* inv_freq_d_ = nullptr;
    cudaEvent_t timer_ev_[2] = {nullptr, nullptr};  // timer_begin / timer_end_s
    float* attn_ws_ = nullptr;  // split-K partial states of decode attention
    int64_t attn_ws_cap_ = 0;   // floats
    int* attn_cnt_ = nullptr;   // split-K arrival counters, after the partial states
    int64_t attn_cnt_cap_ = 0;
    uint8_t* staging_ = nullptr;  // raw GGUF bytes on their way to the dequant kernel
    size_t staging_cap_ = 0;
    // Block-format weights at more rows than the GEMV takes: each product dequantizes its weight
    // here, then cuBLASLt. Sized at load to the largest native weight (never grown while a step
    // could be recording a graph that points at it).
    uint16_t* wscratch_ = nullptr;
    size_t wscratch_elems_ = 0;
    // qmma's split-K workspace (zeroed once), sized for the largest block-format weight at
    // tuning().qmma_max_rows rows.
    void* qmma_ws_ = nullptr;
    size_t qmma_ws_bytes_ = 0;
    int64_t block_rows_max_ = 0, block_cols_max_ = 0;
    /// The product x . w^T for w in a block format and too many rows for the GEMV (cuda_fused.cpp).
    void note_block_weight(int64_t rows, int64_t cols);  // grows the scratch and the qmma workspace
    bool gemv_for(int64_t n_rows, const tensor& w, size_t bytes) const;  // cuda_fused.cpp
    void blocks_gemm(const tensor& x, const tensor& w, tensor& out, bool out_f32);

    void ensure_ids(size_t rows);  // grows ids_d_ / ids_h_ and the sampling parameter buffers
    kernels::device_sample_params* sparams_d_ = nullptr;  // sample_rows parameters, and their pinned staging
    kernels::device_sample_params* sparams_h_ = nullptr;
    int32_t* ids_d_ = nullptr;  // argmax_rows / sample_rows results, and their pinned host copy
    int32_t* ids_h_ = nullptr;
    size_t ids_cap_ = 0;

    struct graph_entry {
        cudaGraphExec_t exec = nullptr;
        int seen = 0;          // recorded on the second sighting of a key: one-off shapes stay eager
        int64_t vocab = 0;     // the embedding table's rows at recording time (replay checks ids)
    };
    // moe_ffn's scratch (cuda_moe.cpp): grown on demand, never while recording (MoE steps run eagerly)
    uint8_t* moe_dev_ = nullptr;
    size_t moe_dev_bytes_ = 0;
    uint8_t* moe_host_ = nullptr;  // pinned
    size_t moe_host_bytes_ = 0;
    moe_routes moe_routes_;
    int64_t experts_run_ = 0;

    std::unordered_map<uint64_t, graph_entry> graphs_;
    bool recording_ = false;
    uint64_t recording_key_ = 0;
    int64_t embed_vocab_ = 0;
};

} // namespace rl::cuda_detail
