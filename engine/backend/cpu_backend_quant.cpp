// cpu_backend_quant.cpp: cpu_backend's products with block-format weights (see cpu_backend.h).
// Few rows (decode, small batches): the activations are quantized once per op to 16-bit blocks and
// the weight rows are split over the pool for the integer kernels of cpu_quant.h; products that
// share an input (q/k/v, gate/up) run as one parallel pass, so a layer pays fewer pool barriers.
// More rows (prefill): tiles of weight rows are expanded to fp32 in a per-thread buffer that
// stays in cache and fed to the register-tiled fp32 matmul, which is compute bound there.
#include "backend/cpu_backend.h"

#include "backend/cpu_kernels.h"
#include "backend/op_checks.h"
#include "backend/random_uniform.h"
#include "backend/thread_pool.h"
#include "common/engine_error.h"
#include "gguf/dequant.h"

#include <cmath>
#include <string>
#include <vector>

namespace rl {
namespace {

float* f32(const tensor& t) { return static_cast<float*>(t.data); }

void check_f32(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cpu_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::f32, std::string("cpu_backend: ") + what + " must be f32");
}

cpu_quant::block_weight block_of(const tensor& w) {
    return {to_ggml_type(w.type), static_cast<const uint8_t*>(w.data), dtype_row_bytes(w.type, w.cols), w.cols};
}

// Weight rows per pool chunk for an int8 product of n activation rows of k: about 32k
// multiply-adds, enough to hide the chunk hand-out, small enough to balance two threads.
int64_t gemv_grain(int64_t n, int64_t k) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, n * k)); }

// Weight rows a thread expands to fp32 at a time: 16 x k floats (96 KiB at k = 1536) stay in L2
// while every activation row streams over them; on AVX-512, one 32-row panel of the packed GEMM.
int64_t expand_rows(int64_t n) { return std::max<int64_t>(16, cpu_kernels::matmul_cols_unit(n)); }

} // namespace

bool cpu_backend::int8_path(const tensor& x, const tensor& w) const {
    return is_quantized(w.type) && x.rows <= kQuantMaxRows && cpu_quant::has_kernels(to_ggml_type(w.type));
}

void cpu_backend::block_matmul(const tensor& x, const tensor& w, tensor& out) {
    const cpu_quant::block_weight bw = block_of(w);
    const int64_t n = x.rows, k = x.cols, m = w.rows;
    if (int8_path(x, w)) {
        RL_CHECK(qx_.n == n && qx_.k == k, "cpu_backend: activations not quantized for this product");
        pool_->parallel_for(m, gemv_grain(n, k), [&](int64_t b, int64_t e) {
            cpu_quant::gemv_rows(bw, qx_, b, e, f32(out), m, isa_);
        });
        return;
    }
    const int64_t rows = expand_rows(n), tiles = (m + rows - 1) / rows;
    pool_->parallel_for(tiles, 1, [&](int64_t b, int64_t e) {
        thread_local std::vector<float> tile;
        tile.resize(size_t(rows * k));
        for (int64_t t = b; t < e; ++t) {
            const int64_t r0 = t * rows, r1 = std::min(m, r0 + rows);
            for (int64_t r = r0; r < r1; ++r)
                dequantize_row(bw.type, bw.data + size_t(r) * bw.row_bytes, tile.data() + (r - r0) * k, k);
            cpu_kernels::matmul_cols(f32(x), n, k, tile.data(), r1 - r0, f32(out) + r0, m);
        }
    });
}

void cpu_backend::matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out) {
    RL_CHECK(w.size() == out.size() && !w.empty(), "matmuls: " + std::to_string(w.size()) + " weights for " +
                                                       std::to_string(out.size()) + " outputs");
    bool shared = true;
    for (const tensor* t : w) shared = shared && int8_path(x, *t);
    if (!shared) {
        backend::matmuls(x, w, out);
        return;
    }
    check_f32(x, "matmuls x");
    int64_t total = 0;
    std::vector<int64_t> first;  // first[i]: index of weight i's row 0 in the joint row range
    std::vector<cpu_quant::block_weight> bw;
    for (size_t i = 0; i < w.size(); ++i) {
        check_f32(*out[i], "matmuls out");
        op_checks::matmul(x, *w[i], *out[i]);
        first.push_back(total);
        bw.push_back(block_of(*w[i]));
        total += w[i]->rows;
    }
    cpu_quant::resize_q8(qx_, x.rows, x.cols);
    cpu_quant::quantize_rows(f32(x), 0, x.rows, qx_);
    pool_->parallel_for(total, gemv_grain(x.rows, x.cols), [&](int64_t b, int64_t e) {
        for (size_t i = 0; i < bw.size(); ++i) {
            const int64_t lo = std::max(b, first[i]), hi = std::min(e, first[i] + w[i]->rows);
            if (lo < hi) cpu_quant::gemv_rows(bw[i], qx_, lo - first[i], hi - first[i], f32(*out[i]), w[i]->rows, isa_);
        }
    });
}

void cpu_backend::gate_up_silu(const tensor& x, const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up,
                               tensor& act) {
    if (!int8_path(x, w_gate) || !int8_path(x, w_up)) {
        backend::gate_up_silu(x, w_gate, w_up, gate, up, act);
        return;
    }
    check_f32(x, "gate_up_silu x");
    for (const tensor* t : {&gate, &up, &act}) check_f32(*t, "gate_up_silu output");
    op_checks::matmul(x, w_gate, gate);
    op_checks::matmul(x, w_up, up);
    op_checks::silu_mul(gate, up, act);
    cpu_quant::resize_q8(qx_, x.rows, x.cols);
    cpu_quant::quantize_rows(f32(x), 0, x.rows, qx_);
    const cpu_quant::block_weight bg = block_of(w_gate), bu = block_of(w_up);
    const int64_t m = w_gate.rows;
    // Each chunk computes the same rows of gate and up, then their activation: one pass, one barrier.
    pool_->parallel_for(m, gemv_grain(2 * x.rows, x.cols), [&](int64_t b, int64_t e) {
        cpu_quant::gemv_rows(bg, qx_, b, e, f32(gate), m, isa_);
        cpu_quant::gemv_rows(bu, qx_, b, e, f32(up), m, isa_);
        for (int64_t i = 0; i < x.rows; ++i)
            for (int64_t r = b; r < e; ++r) {
                const float g = f32(gate)[i * m + r];
                f32(act)[i * m + r] = g / (1.f + std::exp(-g)) * f32(up)[i * m + r];
            }
    });
}

// The same bytes as kernels/random_fill.cu's fill_blocks_kernel: every quant byte a uniform draw,
// then the block's f16 scale fields set so the values span about [-amp, amp].
void cpu_backend::fill_random(tensor& t, uint64_t seed, float lo, float hi) {
    if (!is_quantized(t.type)) {
        backend::fill_random(t, seed, lo, hi);
        return;
    }
    RL_CHECK(t.data != nullptr, "cpu_backend::fill_random: no storage");
    RL_CHECK(lo == -hi && hi > 0, "cpu_backend::fill_random: a block format takes a symmetric range");
    const ggml_type type = to_ggml_type(t.type);
    const auto tr = ggml_traits(type);
    const int64_t n_blocks = t.numel() / tr.block_elems;
    const int bb = int(tr.block_bytes);
    const float amp = hi;
    auto* out = static_cast<uint8_t*>(t.data);
    pool_->parallel_for(n_blocks, 1024, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            uint8_t* blk = out + b * bb;
            for (int i = 0; i < bb; ++i)
                blk[i] = uint8_t(random_uniform_at(seed, uint64_t(b) * uint64_t(bb) + uint64_t(i), 0.f, 256.f));
            auto put = [](uint8_t* p, float v) {
                const uint16_t h = fp32_to_fp16(v);
                p[0] = uint8_t(h & 0xFF), p[1] = uint8_t(h >> 8);
            };
            switch (type) {
            case ggml_type::q8_0: put(blk, amp / 127.f); break;
            case ggml_type::q4_0: put(blk, amp / 8.f); break;
            case ggml_type::q5_0: put(blk, amp / 16.f); break;
            case ggml_type::q4_1: put(blk, 2.f * amp / 15.f), put(blk + 2, -amp); break;
            case ggml_type::q5_1: put(blk, 2.f * amp / 31.f), put(blk + 2, -amp); break;
            case ggml_type::q4_k: put(blk, amp / (15.f * 63.f)), put(blk + 2, amp / 63.f); break;
            case ggml_type::q5_k: put(blk, amp / (31.f * 63.f)), put(blk + 2, amp / 63.f); break;
            case ggml_type::q6_k: put(blk + 208, amp / (128.f * 32.f)); break;
            default: RL_THROW(std::string("cpu_backend::fill_random: no random blocks for ") + tr.name);
            }
        }
    });
}

} // namespace rl
