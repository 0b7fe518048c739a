// cpu_backend.cpp: see cpu_backend.h. The hot loops live in cpu_kernels.h; the methods here
// check their shapes with RL_CHECK before touching memory, then split the work over the pool.
#include "backend/cpu_backend.h"

#include "backend/cpu_kernels.h"
#include "backend/host_info.h"
#include "backend/op_checks.h"
#include "backend/thread_pool.h"
#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rl {
namespace {

using namespace cpu_kernels;

std::string mib(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

void check_f32(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cpu_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::f32, std::string("cpu_backend: ") + what + " must be f32");
}

float* f32(const tensor& t) { return static_cast<float*>(t.data); }

} // namespace

cpu_backend::cpu_backend(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    pool_ = std::make_unique<thread_pool>(threads);
    cpu_name_ = host_cpu_name();
}

cpu_backend::~cpu_backend() { std::free(kv_pool_); }

int cpu_backend::threads() const { return pool_->size(); }

device_info cpu_backend::info() const {
    device_info d;
    d.kind = "cpu";
    d.name = cpu_name_;
    d.compute_units = pool_->size();
    read_host_memory(d);  // available memory changes while the model runs
    return d;
}

// --- memory ----------------------------------------------------------------------------------

tensor cpu_backend::alloc(int64_t rows, int64_t cols, dtype t) {
    RL_CHECK(rows >= 0 && cols >= 0, "cpu_backend::alloc: negative shape");
    tensor out{nullptr, t, rows, cols};
    const size_t bytes = std::max<size_t>(64, (out.bytes() + 63) / 64 * 64);
    out.data = std::aligned_alloc(64, bytes);
    RL_CHECK(out.data != nullptr, "cpu_backend: out of memory allocating " + mib(bytes));
    allocated_ += out.bytes();
    return out;
}

void cpu_backend::release(tensor& t) {
    if (!t.data) return;
    allocated_ -= std::min(allocated_, t.bytes());
    std::free(t.data);
    t = tensor{};
}

void cpu_backend::upload(const tensor& dst, const float* src) {
    RL_CHECK(dst.data && src, "cpu_backend::upload: null buffer");
    const int64_t n = dst.numel();
    switch (dst.type) {
    case dtype::f32: std::memcpy(dst.data, src, size_t(n) * 4); break;
    case dtype::f16:
        for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst.data)[i] = fp32_to_fp16(src[i]);
        break;
    case dtype::bf16:
        for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst.data)[i] = fp32_to_bf16(src[i]);
        break;
    default: RL_THROW(std::string("cpu_backend::upload: no fp32 upload into ") + dtype_name(dst.type));
    }
}

void cpu_backend::download(const tensor& src, float* dst) {
    RL_CHECK(src.data && dst, "cpu_backend::download: null buffer");
    const int64_t n = src.numel();
    switch (src.type) {
    case dtype::f32: std::memcpy(dst, src.data, size_t(n) * 4); break;
    case dtype::f16:
        for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(static_cast<const uint16_t*>(src.data)[i]);
        break;
    case dtype::bf16:
        for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(static_cast<const uint16_t*>(src.data)[i]);
        break;
    default: {
        const size_t rb = dtype_row_bytes(src.type, src.cols);
        for (int64_t r = 0; r < src.rows; ++r)
            dequantize_row(to_ggml_type(src.type), static_cast<const uint8_t*>(src.data) + size_t(r) * rb,
                           dst + r * src.cols, src.cols);
    }
    }
}

dtype cpu_backend::weight_dtype(ggml_type t, int64_t, weight_storage ws) const {
    RL_CHECK(ws != weight_storage::bf16, "the CPU backend has no bf16 weights: use --weights auto, native or f32");
    if (ws == weight_storage::f32) return dtype::f32;
    const auto bt = block_dtype(t);  // auto and native keep every block format it computes on
    return bt && cpu_quant::has_kernels(t) ? *bt : dtype::f32;
}

tensor cpu_backend::upload_weight(const gguf_tensor_info& t, weight_storage ws) {
    const dtype keep = weight_dtype(t.type, t.row_length(), ws);  // refuses a storage not offered
    RL_CHECK(!t.dims.empty() && t.row_length() > 0, "tensor '" + t.name + "' has an empty shape");
    const auto tr = ggml_traits(t.type);
    RL_CHECK(tr.name && tr.dequantizable, "tensor '" + t.name + "' has unsupported type " + ggml_type_name(t.type));
    const int64_t rows = t.n_rows(), cols = t.row_length();
    const size_t row_bytes = ggml_row_bytes(t.type, cols);
    RL_CHECK(t.data && t.nbytes >= row_bytes * size_t(rows), "tensor '" + t.name + "' data is truncated");
    if (keep != dtype::f32) {  // the file's blocks, byte for byte (copied: the file may be closed)
        tensor out = alloc(rows, cols, keep);
        std::memcpy(out.data, t.data, row_bytes * size_t(rows));
        return out;
    }
    const size_t need = size_t(rows * cols) * 4, avail = host_available_memory();
    RL_CHECK(avail == 0 || need < avail, "weight '" + t.name + "' needs " + mib(need) + " as fp32 but only " +
                                             mib(avail) + " of RAM is available");
    tensor out = alloc(rows, cols, dtype::f32);
    const uint8_t* src = t.data;
    float* dst = f32(out);
    const ggml_type ty = t.type;
    pool_->parallel_for(rows, 64, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) dequantize_row(ty, src + size_t(r) * row_bytes, dst + r * cols, cols);
    });
    return out;
}

void cpu_backend::alloc_kv(const kv_cache_layout& l) {
    RL_CHECK(l.n_layers > 0 && l.num_blocks > 0 && l.block_size > 0 && l.n_kv_heads > 0 && l.head_dim > 0,
             "cpu_backend::alloc_kv: every dimension of the KV layout must be positive");
    std::free(kv_pool_);
    kv_pool_ = nullptr;
    kv_bytes_ = 0;
    kv_ = kv_cache_layout{};
    const size_t bytes = size_t(2) * l.n_layers * size_t(l.num_blocks) * l.block_size * l.n_kv_heads * l.head_dim * 4;
    const size_t avail = host_available_memory();
    if (avail != 0 && bytes > avail)
        RL_THROW("KV pool of " + mib(bytes) + " (" + std::to_string(l.num_blocks) + " blocks x " +
                 std::to_string(l.block_size) + " tokens x " + std::to_string(l.n_layers) + " layers x " +
                 std::to_string(l.n_kv_heads) + " kv heads x " + std::to_string(l.head_dim) +
                 " dims x K,V fp32) exceeds available memory (" + mib(avail) + ")");
    kv_pool_ = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    RL_CHECK(kv_pool_ != nullptr, "cpu_backend: out of memory allocating a KV pool of " + mib(bytes));
    // Touch every page now: the pool is then resident from the start, as the window's memory
    // figures say, instead of growing the RSS block by block as first use reaches it (a soak
    // would read that as a leak).
    std::memset(kv_pool_, 0, bytes);
    kv_ = l;
    kv_bytes_ = bytes;
}

float* cpu_backend::k_block(int layer, int block) const {
    const size_t per_block = size_t(kv_.block_size) * kv_.n_kv_heads * kv_.head_dim;
    return kv_pool_ + (size_t(layer) * 2 * kv_.num_blocks + block) * per_block;
}
float* cpu_backend::v_block(int layer, int block) const {
    const size_t per_block = size_t(kv_.block_size) * kv_.n_kv_heads * kv_.head_dim;
    return kv_pool_ + ((size_t(layer) * 2 + 1) * kv_.num_blocks + block) * per_block;
}

// --- one step --------------------------------------------------------------------------------

void cpu_backend::set_step(const step_input& in) {
    op_checks::step_rows(in, row_seq_);
    step_ = in;
}

void cpu_backend::embed(const tensor& table, tensor& out) {
    RL_CHECK(table.data != nullptr, "cpu_backend: embedding table has no storage");
    check_f32(out, "embed output");
    const int64_t n = step_.n_tokens(), d = table.cols;
    op_checks::embed(table, out, step_);
    const size_t rb = dtype_row_bytes(table.type, d);
    for (int64_t i = 0; i < n; ++i) {
        const auto* row = static_cast<const uint8_t*>(table.data) + size_t(step_.tokens[size_t(i)]) * rb;
        if (table.type == dtype::f32) std::memcpy(f32(out) + i * d, row, size_t(d) * 4);
        else dequantize_row(to_ggml_type(table.type), row, f32(out) + i * d, d);
    }
}

void cpu_backend::rms_norm(const tensor& x, const tensor& w, float eps, tensor& out) {
    check_f32(x, "rms_norm input");
    check_f32(w, "rms_norm weight");
    check_f32(out, "rms_norm output");
    op_checks::rms_norm(x, w, out);
    const int64_t d = x.cols;
    pool_->parallel_for(x.rows, 8, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const float* xr = f32(x) + r * d;
            float* o = f32(out) + r * d;
            double ss = 0.0;
            for (int64_t i = 0; i < d; ++i) ss += double(xr[i]) * xr[i];
            const float s = float(1.0 / std::sqrt(ss / double(d) + eps));
            for (int64_t i = 0; i < d; ++i) o[i] = xr[i] * s * f32(w)[i];
        }
    });
}

void cpu_backend::add(tensor& x, const tensor& y) {
    check_f32(x, "add lhs");
    check_f32(y, "add rhs");
    op_checks::add(x, y);
    float* a = f32(x);
    const float* b = f32(y);
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

void cpu_backend::matmul(const tensor& x, const tensor& w, tensor& out) {
    check_f32(x, "matmul x");
    check_f32(out, "matmul out");
    if (is_quantized(w.type)) {
        op_checks::matmul(x, w, out);
        if (int8_path(x, w)) {
            cpu_quant::resize_q8(qx_, x.rows, x.cols);
            cpu_quant::quantize_rows(f32(x), 0, x.rows, qx_);
        }
        block_matmul(x, w, out);
        return;
    }
    check_f32(w, "matmul w");
    op_checks::matmul(x, w, out);
    const int64_t n = x.rows, k = x.cols, m = w.rows;
    const float *xp = f32(x), *wp = f32(w);
    float* op = f32(out);
    // Split the output columns (weight rows) across threads: each thread streams its own slice of
    // w once per row block, which is what decode (n = 1, bandwidth bound) needs too. Slices are
    // whole units of the kernel's column tile, so none pays for a partial one but the last.
    const int64_t unit = matmul_cols_unit(n);
    const int64_t tiles = (m + unit - 1) / unit;
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, n * k * unit));  // >= 64k FMAs a chunk
    pool_->parallel_for(tiles, grain, [&](int64_t b, int64_t e) {
        const int64_t m0 = b * unit, m1 = std::min(m, e * unit);
        matmul_cols(xp, n, k, wp + m0 * k, m1 - m0, op + m0, m);
    });
}

void cpu_backend::add_bias(tensor& x, const tensor& b) {
    check_f32(x, "add_bias x");
    check_f32(b, "add_bias bias");
    op_checks::add_bias(x, b);
    for (int64_t r = 0; r < x.rows; ++r)
        for (int64_t c = 0; c < x.cols; ++c) f32(x)[r * x.cols + c] += f32(b)[c];
}

void cpu_backend::rope(tensor& x, const rope_params& p) {
    check_f32(x, "rope input");
    op_checks::rope(x, p, step_.n_tokens());
    const int half = p.rope_dim / 2;
    pool_->parallel_for(x.rows, 4, [&](int64_t b, int64_t e) {
        std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
        for (int64_t r = b; r < e; ++r) {
            const double pos = step_.positions[size_t(r)];
            for (int i = 0; i < half; ++i) {
                const double th = pos * double((*p.inv_freq)[size_t(i)]);
                cs[size_t(i)] = float(std::cos(th));
                sn[size_t(i)] = float(std::sin(th));
            }
            for (int h = 0; h < p.n_heads; ++h) {
                float* v = f32(x) + r * x.cols + int64_t(h) * p.head_dim;
                for (int i = 0; i < half; ++i) {
                    // normal: pairs (2i, 2i+1); neox: pairs (i, i + rope_dim/2)
                    const int i0 = p.neox ? i : 2 * i, i1 = p.neox ? i + half : 2 * i + 1;
                    const float a = v[i0], c = v[i1];
                    v[i0] = a * cs[size_t(i)] - c * sn[size_t(i)];
                    v[i1] = a * sn[size_t(i)] + c * cs[size_t(i)];
                }
            }
        }
    });
}

void cpu_backend::check_kv_ready(int layer) const {
    RL_CHECK(kv_pool_ != nullptr, "cpu_backend: the KV pool has not been allocated (alloc_kv)");
    RL_CHECK(layer >= 0 && layer < kv_.n_layers, "cpu_backend: layer " + std::to_string(layer) + " out of range");
    op_checks::step_blocks(step_, kv_);
}

void cpu_backend::kv_store(int layer, const tensor& k, const tensor& v) {
    check_f32(k, "kv_store k");
    check_f32(v, "kv_store v");
    check_kv_ready(layer);
    op_checks::kv_store(k, v, step_.n_tokens(), kv_);
    const int64_t w = int64_t(kv_.n_kv_heads) * kv_.head_dim;
    for (int64_t r = 0; r < k.rows; ++r) {
        const seq_slice& s = step_.seqs[size_t(row_seq_[size_t(r)])];
        const int pos = step_.positions[size_t(r)];
        const int blk = s.block_table[size_t(pos / kv_.block_size)];
        const int64_t off = int64_t(pos % kv_.block_size) * w;
        std::memcpy(k_block(layer, blk) + off, f32(k) + r * w, size_t(w) * 4);
        std::memcpy(v_block(layer, blk) + off, f32(v) + r * w, size_t(w) * 4);
    }
}

void cpu_backend::attention(int layer, const tensor& q, tensor& out, int n_heads, int n_kv_heads, int head_dim,
                            float scale, int window) {
    check_f32(q, "attention q");
    check_f32(out, "attention out");
    check_kv_ready(layer);
    check_attention_args(q, out, n_heads, n_kv_heads, head_dim, step_.n_tokens(), kv_);
    op_checks::attention_window(step_, window);
    const attn_args a{f32(q), f32(out), k_block(layer, 0), v_block(layer, 0), n_heads, n_kv_heads, head_dim,
                      kv_.block_size, scale};
    pool_->parallel_for(q.rows * n_heads, 1, [&](int64_t b, int64_t e) {
        std::vector<float> scores;
        for (int64_t t = b; t < e; ++t) {
            const int64_t r = t / n_heads;
            const seq_slice& s = step_.seqs[size_t(row_seq_[size_t(r)])];
            const int ctx = step_.positions[size_t(r)] + 1;  // causal: positions 0..p
            const int j0 = window > 0 ? std::max(0, ctx - window) : 0;  // window: p - j < window
            scores.resize(size_t(ctx));
            attend_one(a, r, int(t % n_heads), j0, ctx, s.block_table.data(), scores.data());
        }
    });
}

void cpu_backend::silu_mul(const tensor& gate, const tensor& up, tensor& out) {
    check_f32(gate, "silu_mul gate");
    check_f32(up, "silu_mul up");
    check_f32(out, "silu_mul out");
    op_checks::silu_mul(gate, up, out);
    const int64_t n = gate.numel();
    pool_->parallel_for(n, 4096, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const float g = f32(gate)[i];
            f32(out)[i] = g / (1.f + std::exp(-g)) * f32(up)[i];
        }
    });
}

void cpu_backend::gather_logit_rows(const tensor& x, tensor& out) {
    check_f32(x, "gather x");
    check_f32(out, "gather out");
    op_checks::gather_logit_rows(x, out, step_);
    for (size_t i = 0; i < step_.logit_rows.size(); ++i)
        std::memcpy(f32(out) + int64_t(i) * x.cols, f32(x) + int64_t(step_.logit_rows[i]) * x.cols, size_t(x.cols) * 4);
}

} // namespace rl
