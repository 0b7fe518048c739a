// cpu_backend: the fp32 reference backend. Every op is a plain, multithreaded loop (a persistent
// thread_pool, parallel over rows or (token, head) pairs); matmul is register-tiled with an AVX2+FMA
// clone chosen at load time. The paged KV pool follows backend.h exactly. Tested by test_cpu_backend
// against double-precision references, and end to end by test_golden.
#pragma once
#include "backend/backend.h"

#include <memory>

namespace rl {

class thread_pool;

class cpu_backend final : public backend {
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
    void alloc_kv(const kv_cache_layout& layout) override;
    const kv_cache_layout& kv_layout() const override { return kv_; }

    void set_step(const step_input& in) override;
    void embed(const tensor& table, tensor& out) override;
    void rms_norm(const tensor& x, const tensor& w, float eps, tensor& out) override;
    void add(tensor& x, const tensor& y) override;
    void matmul(const tensor& x, const tensor& w, tensor& out) override;
    void add_bias(tensor& x, const tensor& b) override;
    void rope(tensor& x, const rope_params& p) override;
    void kv_store(int layer, const tensor& k, const tensor& v) override;
    void attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads, int head_dim,
                   float scale) override;
    void silu_mul(const tensor& gate, const tensor& up, tensor& out) override;
    void gather_logit_rows(const tensor& x, tensor& out) override;
    void synchronize() override {}

    int threads() const;
    /// Bytes currently allocated through alloc/upload_weight (the KV pool excluded).
    size_t allocated_bytes() const { return allocated_; }
    size_t kv_bytes() const { return kv_bytes_; }

private:
    float* k_block(int layer, int block) const;  // -> [block_size, n_kv_heads, head_dim]
    float* v_block(int layer, int block) const;
    void check_kv_ready(int layer) const;

    std::unique_ptr<thread_pool> pool_;
    std::string cpu_name_;
    size_t allocated_ = 0;
    kv_cache_layout kv_{};
    float* kv_pool_ = nullptr;  // per layer: K [num_blocks*block_size*n_kv_heads*head_dim], then V
    size_t kv_bytes_ = 0;
    step_input step_;
    std::vector<int32_t> row_seq_;  // [n_tokens] batch row -> index into step_.seqs
};

} // namespace rl
