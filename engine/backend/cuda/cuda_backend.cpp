// cuda_backend.cpp: the GPU backend. bf16 activations, weights and paged KV pool, with the residual
// stream in f32 where the model allocates it so (embed, add, rms_norm, add_rms_norm and the row
// gather accept f32 x; matmul may write f32, e.g. the logits); matmuls through
// cuBLASLt (gemm.cpp), everything else through the kernel families in kernels/. One stream per
// backend; the host waits only in download(), synchronize(), upload() and when freeing memory.
// set_step packs the step's bookkeeping (step_pack.h) into one pinned buffer and copies it with
// one cudaMemcpyAsync. Tested by tests/test_gpu_kernels.cpp (op by op) and tests/test_gpu_backend.cpp
// (whole model against cpu_backend).
#include "cuda_backend_impl.h"

#include "step_pack.h"

#include "backend/row_sampling.h"
#include "tuning.h"

#include <algorithm>
#include <cstring>

namespace rl::cuda_detail {

cuda_backend::cuda_backend(int device) : device_(device) {
    // The kernels' tuning table is read here, before any launch or graph capture: a malformed
    // RIDGELINE_TUNING fails the backend's creation with its message instead of a later launch.
    kernels::tuning();
    try {
        use_device();
        cudaDeviceProp prop{};
        RL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
        name_ = prop.name;
        sms_ = prop.multiProcessorCount;
        RL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        RL_CUDA_CHECK(cudaEventCreateWithFlags(&meta_copied_, cudaEventDisableTiming));
        gemm_ = std::make_unique<kernels::gemm_runner>();
    } catch (...) {
        free_all();
        throw;
    }
}

cuda_backend::~cuda_backend() { free_all(); }

// Destructor path: errors are ignored (nothing sensible can be done with them here).
void cuda_backend::free_all() noexcept {
    cudaSetDevice(device_);
    if (stream_) cudaStreamSynchronize(stream_);
    gemm_.reset();
    cudaFree(kv_pool_);
    cudaFree(meta_d_);
    cudaFreeHost(meta_h_);
    cudaFree(inv_freq_d_);
    cudaFree(staging_);
    cudaFree(wscratch_);
    cudaFree(qmma_ws_);
    wscratch_ = nullptr, wscratch_elems_ = 0, qmma_ws_ = nullptr, qmma_ws_bytes_ = 0;
    cudaFree(ids_d_);
    cudaFree(attn_ws_);
    cudaFree(moe_dev_);
    cudaFreeHost(moe_host_);
    moe_dev_ = nullptr, moe_host_ = nullptr, moe_dev_bytes_ = 0, moe_host_bytes_ = 0;
    cudaFreeHost(ids_h_);
    cudaFree(sparams_d_);
    cudaFreeHost(sparams_h_);
    ids_d_ = nullptr, ids_h_ = nullptr, attn_ws_ = nullptr, attn_ws_cap_ = 0, attn_cnt_ = nullptr, attn_cnt_cap_ = 0, sparams_d_ = nullptr, sparams_h_ = nullptr;
    forget_graphs();
    kv_pool_ = nullptr, meta_d_ = nullptr, meta_h_ = nullptr, inv_freq_d_ = nullptr, staging_ = nullptr;
    if (meta_copied_) cudaEventDestroy(meta_copied_);
    for (cudaEvent_t& e : timer_ev_)
        if (e) cudaEventDestroy(e), e = nullptr;
    if (stream_) cudaStreamDestroy(stream_);
    meta_copied_ = nullptr, stream_ = nullptr;
}

device_info cuda_backend::info() const {
    use_device();
    device_info d;
    d.kind = "cuda";
    d.name = name_;
    d.compute_units = sms_;
    RL_CUDA_CHECK(cudaMemGetInfo(&d.free_memory, &d.total_memory));
    return d;
}

void cuda_backend::timer_begin() {
    use_device();
    for (cudaEvent_t& e : timer_ev_)
        if (!e) RL_CUDA_CHECK(cudaEventCreate(&e));
    RL_CUDA_CHECK(cudaEventRecord(timer_ev_[0], stream_));
}

double cuda_backend::timer_end_s() {
    RL_CHECK(timer_ev_[0], "timer_end_s: timer_begin was not called");
    use_device();
    RL_CUDA_CHECK(cudaEventRecord(timer_ev_[1], stream_));
    RL_CUDA_CHECK(cudaEventSynchronize(timer_ev_[1]));
    float ms = 0;
    RL_CUDA_CHECK(cudaEventElapsedTime(&ms, timer_ev_[0], timer_ev_[1]));
    return ms / 1e3;
}

// --- one step --------------------------------------------------------------------------------

void cuda_backend::set_step(const step_input& in) {
    std::vector<int32_t>& pk = pack_buf_;
    const kernels::step_offsets o = kernels::pack_step(in, kernels::attention_prefill_tile_rows, pk);
    use_device();
    RL_CUDA_CHECK(cudaEventSynchronize(meta_copied_));  // the last step's copy has left meta_h_
    if (pk.size() > meta_cap_) {
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));  // queued kernels may still read meta_d_
        forget_graphs();                                // they point at the old buffer
        RL_CUDA_CHECK(cudaFree(meta_d_));
        RL_CUDA_CHECK(cudaFreeHost(meta_h_));
        meta_d_ = nullptr, meta_h_ = nullptr, meta_cap_ = 0;
        const size_t cap = std::max<size_t>(pk.size() * 3 / 2, 4096);
        RL_CUDA_CHECK(cudaMallocHost(&meta_h_, cap * sizeof(int32_t)));
        meta_d_ = static_cast<int32_t*>(device_alloc(cap * sizeof(int32_t), "step metadata"));
        meta_cap_ = cap;
    }
    std::memcpy(meta_h_, pk.data(), pk.size() * sizeof(int32_t));
    RL_CUDA_CHECK(cudaMemcpyAsync(meta_d_, meta_h_, pk.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
    RL_CUDA_CHECK(cudaEventRecord(meta_copied_, stream_));

    const int32_t* d = meta_d_;
    const int n = in.n_tokens();
    tokens_d_ = d;
    meta_ = kernels::step_meta{d + n, d + 2 * n, d + o.seq_token_begin, d + o.seq_n_tokens, d + o.seq_start_pos,
                               d + o.seq_table, d + o.block_tables, n, int(in.seqs.size())};
    logit_rows_d_ = d + o.logit_rows;
    decode_rows_d_ = d + o.decode_rows;
    tiles_d_ = d + o.tiles;
    n_decode_ = o.n_decode;
    n_tiles_ = o.n_tiles;
    step_ = in;
    step_checked_gen_ = 0;
}

void cuda_backend::embed(const tensor& table, tensor& out) {
    check_weight(table, "embedding table");
    check_act(out, "embed output");
    const int n = step_.n_tokens();
    RL_CHECK(n > 0, "embed: a step without tokens");
    op_checks::embed(table, out, step_);
    embed_vocab_ = table.rows;  // a replayed step checks its ids against it
    if (is_quantized(table.type))
        kernels::embed_blocks(to_ggml_type(table.type), table.data, table.rows, table.cols, tokens_d_, n, out.data,
                              is_f32(out), stream_);
    else if (is_f32(out)) kernels::embed_bf16_f32(bf(table), table.rows, table.cols, tokens_d_, n, f32(out), stream_);
    else kernels::embed_bf16(bf(table), table.rows, table.cols, tokens_d_, n, bf(out), stream_);
}

void cuda_backend::rms_norm(const tensor& x, const tensor& w, float eps, tensor& out) {
    check_act(x, "rms_norm input");
    check_bf16(out, "rms_norm output");
    RL_CHECK(w.data && (w.type == dtype::bf16 || w.type == dtype::f32), "rms_norm: weight must be bf16 or f32");
    op_checks::rms_norm(x, w, out);
    if (is_f32(x)) kernels::rms_norm_f32(f32(x), w.data, w.type == dtype::bf16, eps, bf(out), x.rows, x.cols, stream_);
    else kernels::rms_norm_bf16(bf(x), w.data, w.type == dtype::bf16, eps, bf(out), x.rows, x.cols, stream_);
}

void cuda_backend::add_rms_norm(tensor& x, const tensor& y, const tensor& w, float eps, tensor& out) {
    check_act(x, "add_rms_norm x");
    check_bf16(y, "add_rms_norm y");
    check_bf16(out, "add_rms_norm output");
    RL_CHECK(w.data && (w.type == dtype::bf16 || w.type == dtype::f32), "add_rms_norm: weight must be bf16 or f32");
    RL_CHECK(w.numel() == x.cols && y.rows == x.rows && y.cols == x.cols && out.rows == x.rows && out.cols == x.cols,
             "add_rms_norm: x " + shape_of(x) + ", y " + shape_of(y) + ", w " + shape_of(w) + ", out " + shape_of(out));
    const bool wb = w.type == dtype::bf16;
    if (is_f32(x)) kernels::add_rms_norm_f32(f32(x), bf(y), w.data, wb, eps, bf(out), x.rows, x.cols, stream_);
    else kernels::add_rms_norm_bf16(bf(x), bf(y), w.data, wb, eps, bf(out), x.rows, x.cols, stream_);
}

void cuda_backend::add(tensor& x, const tensor& y) {
    check_act(x, "add lhs");
    check_bf16(y, "add rhs");
    op_checks::add(x, y);
    if (is_f32(x)) kernels::add_f32_bf16(f32(x), bf(y), x.numel(), stream_);
    else kernels::add_bf16(bf(x), bf(y), x.numel(), stream_);
}

void cuda_backend::matmul(const tensor& x, const tensor& w, tensor& out) {
    const tensor* ws[] = {&w};  // one product: the same checks and GEMV-or-cuBLASLt choice as several
    tensor* outs[] = {&out};
    matmuls(x, ws, outs);
}

void cuda_backend::add_bias(tensor& x, const tensor& b) {
    check_bf16(x, "add_bias x");
    check_bf16(b, "add_bias bias");
    op_checks::add_bias(x, b);
    kernels::add_bias_bf16(bf(x), bf(b), x.rows, x.cols, stream_);
}

void cuda_backend::check_rope(const tensor& x, const rope_params& p) const {
    check_bf16(x, "rope input");
    op_checks::rope(x, p, step_.n_tokens());
}

void cuda_backend::upload_inv_freq(const std::vector<float>& f) {
    if (f == inv_freq_h_) return;  // uploaded once per model, not per call
    RL_CHECK(!recording_, "rope: new frequencies while recording a step graph");
    forget_graphs();  // recordings read inv_freq_d_
    if (f.size() > inv_freq_h_.size()) {
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        RL_CUDA_CHECK(cudaFree(inv_freq_d_));
        inv_freq_d_ = nullptr;
        inv_freq_h_.clear();
        inv_freq_d_ = static_cast<float*>(device_alloc(f.size() * sizeof(float), "rope frequencies"));
    }
    inv_freq_h_ = f;
    // Pageable source: the call returns once the bytes are staged, so inv_freq_h_ may change later.
    RL_CUDA_CHECK(cudaMemcpyAsync(inv_freq_d_, inv_freq_h_.data(), inv_freq_h_.size() * sizeof(float),
                                  cudaMemcpyHostToDevice, stream_));
}

void cuda_backend::rope(tensor& x, const rope_params& p) {
    check_rope(x, p);
    upload_inv_freq(*p.inv_freq);
    kernels::rope_bf16(bf(x), x.rows, p.n_heads, p.head_dim, p.rope_dim, p.neox, meta_.positions, inv_freq_d_, stream_);
}

void cuda_backend::kv_store(int layer, const tensor& k, const tensor& v) {
    check_bf16(k, "kv_store k");
    check_bf16(v, "kv_store v");
    check_step_kv(layer);
    op_checks::kv_store(k, v, step_.n_tokens(), kv_);
    kernels::kv_store_bf16(bf(k), bf(v), layer_kv(layer), meta_, stream_);
}

void cuda_backend::attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads, int head_dim,
                             float scale, int window) {
    check_bf16(q, "attention q");
    check_bf16(out, "attention out");
    check_step_kv(layer);
    check_attention_args(q, out, n_heads, n_kv_heads, head_dim, step_.n_tokens(), kv_);
    op_checks::attention_window(step_, window);
    const kernels::paged_kv kv = layer_kv(layer);
    if (window > 0 || !kernels::attention_tuned_head_dim(head_dim)) {  // the general kernel, every row
        kernels::attention_window_bf16(bf(q), bf(out), kv, meta_, n_heads, scale, window, stream_);
        return;
    }
    kernels::attention_prefill_bf16(bf(q), bf(out), kv, meta_, tiles_d_, n_tiles_, n_heads, scale, stream_);
    const int splits = kernels::attention_decode_splits(n_decode_, n_heads, n_kv_heads, sms_);
    const int64_t ws = kernels::attention_decode_ws_floats(n_decode_, n_heads, head_dim, splits);
    const int64_t counters = int64_t(n_decode_) * n_heads;  // split-K arrival counters
    if (ws > attn_ws_cap_ || (splits > 1 && counters > attn_cnt_cap_)) {
        // The eager first run of a step shape grows it, before that shape is ever recorded.
        RL_CHECK(!recording_, "attention: decode workspace must grow while recording a step graph");
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        forget_graphs();  // recordings point at the old workspace
        RL_CUDA_CHECK(cudaFree(attn_ws_));
        attn_ws_ = nullptr, attn_ws_cap_ = 0, attn_cnt_ = nullptr, attn_cnt_cap_ = 0;
        // One allocation: the partial states, then the counters (zeroed once; launches leave them zero).
        const int64_t cap = std::max<int64_t>(ws * 3 / 2, 1 << 16), ccap = std::max<int64_t>(counters * 3 / 2, 1 << 12);
        attn_ws_ = static_cast<float*>(device_alloc(size_t(cap + ccap) * sizeof(float), "decode attention workspace"));
        attn_ws_cap_ = cap;
        attn_cnt_ = reinterpret_cast<int*>(attn_ws_ + cap);
        attn_cnt_cap_ = ccap;
        RL_CUDA_CHECK(cudaMemsetAsync(attn_cnt_, 0, size_t(ccap) * sizeof(int), stream_));
    }
    kernels::attention_decode_bf16(bf(q), bf(out), kv, meta_, decode_rows_d_, n_decode_, n_heads, scale, stream_,
                                   splits, attn_ws_, attn_ws_cap_, attn_cnt_, attn_cnt_cap_);
}

void cuda_backend::silu_mul(const tensor& gate, const tensor& up, tensor& out) {
    check_bf16(gate, "silu_mul gate");
    check_bf16(up, "silu_mul up");
    check_bf16(out, "silu_mul out");
    op_checks::silu_mul(gate, up, out);
    kernels::silu_mul_bf16(bf(gate), bf(up), bf(out), gate.numel(), stream_);
}

void cuda_backend::gelu_mul(const tensor& gate, const tensor& up, tensor& out) {
    check_bf16(gate, "gelu_mul gate");
    check_bf16(up, "gelu_mul up");
    check_bf16(out, "gelu_mul out");
    op_checks::silu_mul(gate, up, out, "gelu_mul");
    kernels::gelu_mul_bf16(bf(gate), bf(up), bf(out), gate.numel(), stream_);
}

void cuda_backend::scale(tensor& x, float s) {
    check_act(x, "scale x");
    kernels::scale_inplace(x.data, !is_f32(x), x.numel(), s, stream_);
}

void cuda_backend::gather_logit_rows(const tensor& x, tensor& out) {
    check_act(x, "gather x");
    check_act(out, "gather out");
    RL_CHECK(x.type == out.type, "gather_logit_rows: x and out differ in dtype");
    const int nl = int(step_.logit_rows.size());
    op_checks::gather_logit_rows(x, out, step_);
    kernels::gather_rows(x.data, x.rows, x.cols, int(dtype_size(x.type)), logit_rows_d_, nl, out.data, stream_);
}

void cuda_backend::ensure_ids(size_t rows) {
    if (rows <= ids_cap_) return;
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    RL_CUDA_CHECK(cudaFree(ids_d_));
    RL_CUDA_CHECK(cudaFreeHost(ids_h_));
    RL_CUDA_CHECK(cudaFree(sparams_d_));
    RL_CUDA_CHECK(cudaFreeHost(sparams_h_));
    ids_d_ = nullptr, ids_h_ = nullptr, sparams_d_ = nullptr, sparams_h_ = nullptr, ids_cap_ = 0;
    const size_t cap = std::max<size_t>(rows, 256);
    RL_CUDA_CHECK(cudaMallocHost(&ids_h_, cap * sizeof(int32_t)));
    RL_CUDA_CHECK(cudaMallocHost(&sparams_h_, cap * sizeof(kernels::device_sample_params)));
    ids_d_ = static_cast<int32_t*>(device_alloc(cap * sizeof(int32_t), "argmax ids"));
    sparams_d_ = static_cast<kernels::device_sample_params*>(
        device_alloc(cap * sizeof(kernels::device_sample_params), "sampling parameters"));
    ids_cap_ = cap;
}

void cuda_backend::argmax_rows(const tensor& x, std::vector<int32_t>& ids) {
    check_act(x, "argmax_rows x");
    use_device();
    ensure_ids(size_t(x.rows));
    kernels::argmax_rows(x.data, !is_f32(x), x.rows, x.cols, ids_d_, stream_);
    RL_CUDA_CHECK(cudaMemcpyAsync(ids_h_, ids_d_, size_t(x.rows) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    ids.assign(ids_h_, ids_h_ + x.rows);
}

void cuda_backend::sample_rows(const tensor& x, const std::vector<row_sampling>& p, std::vector<int32_t>& ids) {
    check_act(x, "sample_rows x");
    RL_CHECK(is_f32(x) && size_t(x.rows) == p.size(),
             "sample_rows: " + std::to_string(p.size()) + " parameter sets for f32 logits " + shape_of(x));
    use_device();
    ensure_ids(p.size());
    // The last call's parameter copy has left the pinned buffer: every call ends synchronised.
    for (size_t r = 0; r < p.size(); ++r)
        sparams_h_[r] = kernels::device_sample_params{p[r].temperature, p[r].top_p, p[r].min_p, p[r].u, p[r].top_k, {0, 0, 0}};
    RL_CUDA_CHECK(cudaMemcpyAsync(sparams_d_, sparams_h_, p.size() * sizeof(kernels::device_sample_params),
                                  cudaMemcpyHostToDevice, stream_));
    kernels::sample_rows(f32(x), x.rows, x.cols, sparams_d_, ids_d_, stream_);
    RL_CUDA_CHECK(cudaMemcpyAsync(ids_h_, ids_d_, p.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    ids.assign(ids_h_, ids_h_ + x.rows);
}

void cuda_backend::synchronize() {
    use_device();
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

} // namespace rl::cuda_detail

namespace rl {

std::unique_ptr<backend> make_cuda_backend(int device) {
    std::string why;
    if (!kernels::cuda_available(&why)) RL_THROW("no usable CUDA device: " + why);
    int count = 0;
    RL_CUDA_CHECK(cudaGetDeviceCount(&count));
    RL_CHECK(device >= 0 && device < count,
             "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " present)");
    return std::make_unique<cuda_detail::cuda_backend>(device);
}

} // namespace rl
