// cuda_backend_memory.cpp: the CUDA backend's memory side: device allocations that fail with
// sizes in the message, fp32 <-> dtype transfers, GGUF weights (native: kept in their block
// format; bf16: uploaded in their file format and dequantized on the GPU) and the paged KV pool. See cuda_backend_impl.h.
#include "cuda_backend_impl.h"

#include "gguf/dequant.h"
#include "gguf/gguf_file.h"
#include "qmma.h"
#include "tuning.h"

#include <algorithm>

#include <cstdio>

namespace rl::cuda_detail {
namespace {

std::string gib(size_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(size_t(1) << 30));
    return buf;
}

} // namespace

void* cuda_backend::device_alloc(size_t bytes, const std::string& what) {
    size_t free_b = 0, total_b = 0;
    RL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    // Refuse up front what cannot fit: no failed cudaMalloc (and no sanitizer report) for it.
    cudaError_t err = cudaErrorMemoryAllocation;
    void* p = nullptr;
    if (bytes <= free_b) err = cudaMalloc(&p, bytes);
    if (err == cudaSuccess) return p;
    cudaGetLastError();  // an allocation failure is not sticky; clear it so later checks stay clean
    cudaMemGetInfo(&free_b, &total_b);
    RL_THROW(what + " (" + gib(bytes) + ") does not fit in free GPU memory (" + gib(free_b) + " of " +
             gib(total_b) + "): " + cudaGetErrorString(err));
}

tensor cuda_backend::alloc(int64_t rows, int64_t cols, dtype t) {
    RL_CHECK(rows >= 0 && cols >= 0, "cuda_backend::alloc: negative shape");
    use_device();
    tensor out{nullptr, t, rows, cols};
    if (out.bytes() > 0) out.data = device_alloc(out.bytes(), "tensor " + shape_of(out) + " " + dtype_name(t));
    if (is_quantized(t)) {
        try {
            note_block_weight(rows, cols);
        } catch (...) {
            cudaFree(out.data);
            throw;
        }
    }
    return out;
}

// The large-batch paths' buffers follow the largest block-format weight: the bf16 scratch (more
// rows than qmma takes) and qmma's split-K workspace. They grow only while weights are made (load
// time), so no recorded step graph ever points at a freed one.
void cuda_backend::note_block_weight(int64_t rows, int64_t cols) {
    block_rows_max_ = std::max(block_rows_max_, rows);
    block_cols_max_ = std::max(block_cols_max_, cols);
    const size_t elems = size_t(rows * cols);
    const int qrows = kernels::tuning().qmma_max_rows;
    const size_t ws = qrows > kernels::gemv_max_rows
                          ? kernels::qmma_workspace_bytes(qrows, block_rows_max_, block_cols_max_) : 0;
    if (elems <= wscratch_elems_ && ws <= qmma_ws_bytes_) return;
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    forget_graphs();
    if (elems > wscratch_elems_) {
        RL_CUDA_CHECK(cudaFree(wscratch_));
        wscratch_ = nullptr, wscratch_elems_ = 0;
        wscratch_ = static_cast<uint16_t*>(device_alloc(elems * 2, "the bf16 scratch of block-format weights"));
        wscratch_elems_ = elems;
    }
    if (ws > qmma_ws_bytes_) {
        RL_CUDA_CHECK(cudaFree(qmma_ws_));
        qmma_ws_ = nullptr, qmma_ws_bytes_ = 0;
        qmma_ws_ = device_alloc(ws, "the split-K workspace of block-format products");
        RL_CUDA_CHECK(cudaMemset(qmma_ws_, 0, ws));  // its arrival counters start at zero (qmma.h)
        qmma_ws_bytes_ = ws;
    }
}

int cuda_backend::block_weights_expand_above() const {
    return std::max<int>(int(kernels::gemv_max_rows), kernels::tuning().qmma_max_rows);
}

void cuda_backend::release(tensor& t) {
    if (!t.data) return;
    use_device();
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));  // queued kernels may still use it
    forget_graphs();                                // a recording may point at it
    RL_CUDA_CHECK(cudaFree(t.data));
    t = tensor{};
}

void cuda_backend::upload(const tensor& dst, const float* src) {
    RL_CHECK(dst.data && src, "cuda_backend::upload: null buffer");
    RL_CHECK(!is_quantized(dst.type), std::string("cuda_backend::upload: no fp32 upload into ") + dtype_name(dst.type));
    use_device();
    const int64_t n = dst.numel();
    std::vector<uint16_t> half;
    const void* from = src;
    if (dst.type != dtype::f32) {
        half.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i)
            half[size_t(i)] = dst.type == dtype::bf16 ? fp32_to_bf16(src[i]) : fp32_to_fp16(src[i]);
        from = half.data();
    }
    RL_CUDA_CHECK(cudaMemcpyAsync(dst.data, from, dst.bytes(), cudaMemcpyHostToDevice, stream_));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));  // `half` dies with this call
}

// Synthetic weights on the device (kernels/random_fill.cu): the same values as the host default,
// without a host buffer of the whole tensor and its copy over PCIe.
void cuda_backend::fill_random(tensor& t, uint64_t seed, float lo, float hi) {
    RL_CHECK(t.data || t.numel() == 0, "cuda_backend::fill_random: null buffer");
    use_device();
    if (is_quantized(t.type)) {
        // Random blocks (the quant bytes uniform, the scales spanning about [-hi, hi]).
        RL_CHECK(lo == -hi && hi > 0, "cuda_backend::fill_random: a block format takes a symmetric range");
        const int64_t n_blocks = t.numel() / ggml_traits(to_ggml_type(t.type)).block_elems;
        kernels::fill_blocks(to_ggml_type(t.type), t.data, n_blocks, seed, hi, stream_);
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        return;
    }
    const auto kind = t.type == dtype::f32    ? kernels::fill_kind::f32
                      : t.type == dtype::bf16 ? kernels::fill_kind::bf16
                                                    : kernels::fill_kind::f16;
    kernels::fill_uniform(t.data, kind, t.numel(), seed, lo, hi, stream_);
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));  // a fault shows here, at load, naming the fill
}

void cuda_backend::download(const tensor& src, float* dst) {
    RL_CHECK(src.data && dst, "cuda_backend::download: null buffer");
    use_device();
    const int64_t n = src.numel();
    if (src.type == dtype::f32) {
        RL_CUDA_CHECK(cudaMemcpyAsync(dst, src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_));
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        return;
    }
    if (is_quantized(src.type)) {
        // A native weight: its blocks come back and are decoded by the CPU reference (dequant.cpp).
        std::vector<uint8_t> raw(src.bytes());
        RL_CUDA_CHECK(cudaMemcpyAsync(raw.data(), src.data, raw.size(), cudaMemcpyDeviceToHost, stream_));
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        const size_t rb = dtype_row_bytes(src.type, src.cols);
        for (int64_t r = 0; r < src.rows; ++r)
            dequantize_row(to_ggml_type(src.type), raw.data() + size_t(r) * rb, dst + r * src.cols, src.cols);
        return;
    }
    std::vector<uint16_t> half(static_cast<size_t>(n));
    RL_CUDA_CHECK(cudaMemcpyAsync(half.data(), src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (int64_t i = 0; i < n; ++i)
        dst[i] = src.type == dtype::bf16 ? bf16_to_fp32(half[size_t(i)]) : fp16_to_fp32(half[size_t(i)]);
}

dtype cuda_backend::weight_dtype(ggml_type t, int64_t cols, weight_storage ws) const {
    RL_CHECK(ws != weight_storage::f32, "the CUDA backend computes in bf16: use --weights auto, native or bf16");
    if (ws == weight_storage::native || ws == weight_storage::automatic)
        if (auto b = block_dtype(t); b && cols % ggml_traits(t).block_elems == 0) return *b;
    return dtype::bf16;
}

tensor cuda_backend::upload_weight(const gguf_tensor_info& t, weight_storage ws) {
    RL_CHECK(!t.dims.empty() && t.row_length() > 0, "tensor '" + t.name + "' has an empty shape");
    const auto tr = ggml_traits(t.type);
    RL_CHECK(tr.name && tr.dequantizable, "tensor '" + t.name + "' has unsupported type " + ggml_type_name(t.type));
    const int64_t rows = t.n_rows(), cols = t.row_length();
    const size_t row_bytes = ggml_row_bytes(t.type, cols), raw = row_bytes * size_t(rows);
    RL_CHECK(t.data && t.nbytes >= raw, "tensor '" + t.name + "' data is truncated");
    const dtype keep = weight_dtype(t.type, cols, ws);
    use_device();
    tensor out{nullptr, keep, rows, cols};
    out.data = device_alloc(out.bytes(), "weight '" + t.name + "' " + shape_of(out) + " as " + dtype_name(keep));
    try {
        if (is_quantized(keep)) {
            // Native: the file's blocks byte for byte; the kernels decode them in registers.
            RL_CUDA_CHECK(cudaMemcpyAsync(out.data, t.data, raw, cudaMemcpyHostToDevice, stream_));
            RL_CUDA_CHECK(cudaStreamSynchronize(stream_));  // a fault or a bad copy shows at load
            note_block_weight(rows, cols);
        } else {
            // Expanded to bf16 on the GPU: uploaded in the file's format into a staging buffer that the
            // next weight reuses (stream order keeps its copy behind this dequant); alloc_kv frees it.
            if (raw > staging_cap_) {
                RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
                RL_CUDA_CHECK(cudaFree(staging_));
                staging_ = nullptr, staging_cap_ = 0;
                staging_ = static_cast<uint8_t*>(device_alloc(raw, "staging for weight '" + t.name + "'"));
                staging_cap_ = raw;
            }
            RL_CUDA_CHECK(cudaMemcpyAsync(staging_, t.data, raw, cudaMemcpyHostToDevice, stream_));
            kernels::dequantize_to_bf16(t.type, staging_, bf(out), rows * cols, stream_);
        }
    } catch (...) {
        cudaStreamSynchronize(stream_);
        cudaFree(out.data);
        throw;
    }
    return out;
}

void cuda_backend::alloc_kv(const kv_cache_layout& l) {
    RL_CHECK(l.n_layers > 0 && l.num_blocks > 0 && l.block_size > 0 && l.n_kv_heads > 0 && l.head_dim > 0,
             "cuda_backend::alloc_kv: every dimension of the KV layout must be positive");
    RL_CHECK(l.head_dim % 8 == 0, "cuda_backend::alloc_kv: head_dim must be a multiple of 8");
    use_device();
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    forget_graphs();
    // The pool is sized after the weights are in: give back the weight staging buffer first.
    RL_CUDA_CHECK(cudaFree(staging_));
    RL_CUDA_CHECK(cudaFree(kv_pool_));
    staging_ = nullptr, staging_cap_ = 0, kv_pool_ = nullptr, kv_ = kv_cache_layout{};
    const size_t bytes = size_t(2) * l.n_layers * size_t(l.num_blocks) * l.block_size * l.n_kv_heads * l.head_dim * 2;
    kv_pool_ = static_cast<uint16_t*>(device_alloc(
        bytes, "KV pool of " + std::to_string(l.num_blocks) + " blocks x " + std::to_string(l.block_size) +
                   " tokens x " + std::to_string(l.n_layers) + " layers x " + std::to_string(l.n_kv_heads) +
                   " kv heads x " + std::to_string(l.head_dim) + " dims x K,V bf16"));
    // Zeroed so that no slot holds NaN bit patterns (kernels never read unwritten slots anyway).
    RL_CUDA_CHECK(cudaMemsetAsync(kv_pool_, 0, bytes, stream_));
    kv_ = l;
    ++kv_gen_;
}

kernels::paged_kv cuda_backend::layer_kv(int layer) const {
    const size_t per = size_t(kv_.num_blocks) * kv_.block_size * kv_.n_kv_heads * kv_.head_dim;
    return kernels::paged_kv{kv_pool_ + size_t(layer) * 2 * per, kv_pool_ + (size_t(layer) * 2 + 1) * per,
                             kv_.num_blocks, kv_.block_size, kv_.n_kv_heads, kv_.head_dim};
}

void cuda_backend::check_step_kv(int layer) {
    RL_CHECK(kv_pool_ != nullptr, "cuda_backend: the KV pool has not been allocated (alloc_kv)");
    RL_CHECK(layer >= 0 && layer < kv_.n_layers, "cuda_backend: layer " + std::to_string(layer) + " out of range");
    if (step_checked_gen_ == kv_gen_) return;
    op_checks::step_blocks(step_, kv_);
    step_checked_gen_ = kv_gen_;
}

} // namespace rl::cuda_detail
