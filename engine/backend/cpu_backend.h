// cpu_backend: the CPU backend. Every op is a plain, multithreaded loop (a persistent thread_pool,
// parallel over rows or (token, head) pairs); the fp32 matmul is register-tiled with an AVX2+FMA
// clone chosen at load time. Weights stay in their GGUF block formats under --weights native (the
// CPU's auto): products of few rows quantize the activations to 16 bits (two int8 planes) and
// dot in integers (cpu_quant.h); larger ones expand weight tiles to fp32 in cache for the tiled
// matmul. --weights f32 expands at load: the reference. The paged KV pool follows backend.h exactly. Tested by
// test_cpu_backend and test_cpu_quant against double-precision references, end to end by
// test_golden.
#pragma once
#include "backend/backend.h"
#include "backend/moe_route.h"
#include "backend/cpu_quant.h"

#include <memory>
#include <utility>

namespace rl {

class thread_pool;

class cpu_backend : public backend {  // not final: tests stand in for a recording backend
public:
    /// threads: worker count including the caller; 0 = std::thread::hardware_concurrency().
    explicit cpu_backend(int threads = 0);
    ~cpu_backend() override;

    std::string name() const override { return "cpu"; }
    device_info info() const override;
    dtype compute_dtype() const override { return dtype::f32; }

    tensor alloc(int64_t rows, int64_t cols, dtype t) override;
    void release(tensor& t) override;
    void upload(const tensor& dst, const float* src) override;
    void download(const tensor& src, float* dst) override;
    tensor upload_weight(const gguf_tensor_info& t, weight_storage ws = weight_storage::native) override;
    dtype weight_dtype(ggml_type t, int64_t cols, weight_storage ws) const override;
    bool prefers_native_weights() const override { return true; }
    void alloc_kv(const kv_cache_layout& layout) override;
    const kv_cache_layout& kv_layout() const override { return kv_; }

    void set_step(const step_input& in) override;
    void embed(const tensor& table, tensor& out) override;
    void rms_norm(const tensor& x, const tensor& w, float eps, tensor& out) override;
    void add(tensor& x, const tensor& y) override;
    void matmul(const tensor& x, const tensor& w, tensor& out) override;
    void matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out) override;
    void gate_up_silu(const tensor& x, const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up,
                      tensor& act) override;
    void add_bias(tensor& x, const tensor& b) override;
    void rope(tensor& x, const rope_params& p) override;
    void kv_store(int layer, const tensor& k, const tensor& v) override;
    void attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads, int head_dim,
                   float scale, int window = 0) override;
    void silu_mul(const tensor& gate, const tensor& up, tensor& out) override;
    // cpu_backend_ops.cpp: the ops of the newer families (gemma3's GeGLU and scaled embedding, MoE)
    void gelu_mul(const tensor& gate, const tensor& up, tensor& out) override;
    void scale(tensor& x, float s) override;
    void moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
                 const tensor& down_exps, const moe_params& p, tensor& out) override;
    int64_t take_experts_run() override { return std::exchange(experts_run_, 0); }
    void gather_logit_rows(const tensor& x, tensor& out) override;
    /// Block formats: random blocks as the CUDA backend's kernels::fill_blocks makes them, byte for
    /// byte (synthetic:NAME:QUANT models); plain floats: backend's default.
    void fill_random(tensor& t, uint64_t seed, float lo, float hi) override;
    void synchronize() override {}

    int threads() const;
    /// The integer kernels in use (cpu_quant::detected_isa unless set_isa chose lower, for tests).
    cpu_quant::isa isa() const { return isa_; }
    void set_isa(cpu_quant::isa i) { isa_ = i; }
    /// Products of at most this many rows with block-format weights take the int8 path.
    static constexpr int64_t kQuantMaxRows = 8;
    /// Bytes currently allocated through alloc/upload_weight (the KV pool excluded).
    size_t allocated_bytes() const { return allocated_; }
    size_t kv_bytes() const { return kv_bytes_; }

private:
    int64_t experts_run_ = 0;
    moe_routes routes_;  // moe_ffn's, reused
    float* k_block(int layer, int block) const;  // -> [block_size, n_kv_heads, head_dim]
    float* v_block(int layer, int block) const;
    void check_kv_ready(int layer) const;
    // out rows of x . w^T for block-format w: integer kernels over qx_ (quantized by the caller) when
    // x has few rows, else fp32 tiles of w through the register-tiled matmul.
    void block_matmul(const tensor& x, const tensor& w, tensor& out);
    bool int8_path(const tensor& x, const tensor& w) const;

    std::unique_ptr<thread_pool> pool_;
    std::string cpu_name_;
    size_t allocated_ = 0;
    kv_cache_layout kv_{};
    float* kv_pool_ = nullptr;  // per layer: K [num_blocks*block_size*n_kv_heads*head_dim], then V
    size_t kv_bytes_ = 0;
    step_input step_;
    std::vector<int32_t> row_seq_;  // [n_tokens] batch row -> index into step_.seqs
    cpu_quant::isa isa_ = cpu_quant::detected_isa();
    cpu_quant::q8_rows qx_;         // the activations of the current integer product
};

} // namespace rl
