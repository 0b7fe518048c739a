// cuda_fused.cpp: the CUDA backend's fused forms of the step ops (backend.h), and its products.
// Weights are bf16 or a GGUF block format (native weights); block formats take the GEMV up to
// its 8 rows, and past that are dequantized into a bf16 scratch in front of cuBLASLt. Decode's
// products of few rows go to gemv.cu (q, k and v in one launch; gate and up in one that writes only
// silu(gate) * up), rope of q and k fuses with the KV store. Larger batches take the unfused
// path (cuBLASLt, separate kernels); matmul() is matmuls() of one weight. At 1-2 rows the GEMVs
// also take over the residual stream's RMSNorm (prologue) and adds (epilogue), and the q/k/v
// product also rope and the KV store (epilogue, adjacent-pair rope only), so a SmolLM2 decode
// layer is 5 kernels (~15 unfused). These fusions are the only decode path where they apply (the
// A/Bs that settled them: dev/notes/kernel-switches.md); every other shape composes the unfused
// ops. Numerics match the unfused ops (tests/test_gpu_fused.cpp).
#include "cuda_backend_impl.h"

#include "qmma.h"
#include "tuning.h"

#include <cstdint>

namespace rl::cuda_detail {

bool cuda_backend::fuses_residual(int64_t n_rows) const {
    // True when every product of n_rows goes to the GEMV whatever its size: 1-2 rows (prefers_gemv).
    // The residual ends are then always taken: each removes a norm or add kernel from decode's
    // chain of dependent launches, and every A/B had them ahead or within noise. Other row
    // counts, and shapes the GEMV's ends refuse, compose the unfused ops.
    return gemm_->prefers_gemv(n_rows, SIZE_MAX);
}

// The GEMV norm prologue for x (the f32 residual) and norm_w, or nullopt-like {} when x is not f32.
static kernels::gemv_ends norm_ends(const tensor& x, const tensor& norm_w, float eps) {
    kernels::gemv_ends e;
    if (x.type != dtype::f32 || !(norm_w.type == dtype::f32 || norm_w.type == dtype::bf16) ||
        norm_w.numel() != x.cols)
        return e;
    e.norm_x = static_cast<const float*>(x.data);
    e.norm_w = norm_w.data;
    e.norm_w_bf16 = norm_w.type == dtype::bf16;
    e.eps = eps;
    return e;
}

// A weight as a GEMV segment: its bytes, type and rows.
static kernels::gemv_segment seg_of(const tensor& w, void* out) {
    return kernels::gemv_segment{w.data, out, w.rows, to_ggml_type(w.type)};
}

// The GEMV takes block-format weights at every row count it takes (dequantizing them for
// cuBLASLt instead reads and writes several times the weights' bytes); bf16 as gemm.cpp prefers.
bool cuda_backend::gemv_for(int64_t n_rows, const tensor& w, size_t bytes) const {
    return is_quantized(w.type) ? n_rows <= kernels::gemv_max_rows : gemm_->prefers_gemv(n_rows, bytes);
}

// The checks every product of x [rows, cols] with w[i] makes, and its GEMV segments; returns
// the weights' bytes and sets out_f32 (all outputs alike).
static size_t product_segments(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out,
                               kernels::gemv_segment* segs, bool& out_f32) {
    RL_CHECK(w.size() == out.size() && !w.empty() && w.size() <= size_t(kernels::gemv_max_segments),
             "matmuls: " + std::to_string(w.size()) + " weights for " + std::to_string(out.size()) + " outputs");
    out_f32 = is_f32(*out[0]);
    size_t bytes = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        check_weight(*w[i], "matmul w");
        check_act(*out[i], "matmul out");
        op_checks::matmul(x, *w[i], *out[i]);
        RL_CHECK(is_f32(*out[i]) == out_f32, "matmuls: outputs differ in dtype");
        segs[i] = seg_of(*w[i], out[i]->data);
        bytes += w[i]->bytes();
    }
    return bytes;
}

void cuda_backend::norm_matmuls(const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                                std::span<const tensor* const> w, std::span<tensor* const> out) {
    const kernels::gemv_ends e = norm_ends(x, norm_w, eps);
    if (e.norm_x && fuses_residual(x.rows)) {
        kernels::gemv_segment segs[kernels::gemv_max_segments];
        bool out_f32 = false;
        product_segments(x, w, out, segs, out_f32);
        const int n_seg = int(w.size());
        if (!out_f32 && kernels::gemv_bf16_supported(nullptr, segs, n_seg, x.rows, x.cols, false, e))
            return kernels::gemv_bf16(nullptr, segs, n_seg, x.rows, x.cols, false, stream_, nullptr, e);
    }
    backend::norm_matmuls(x, norm_w, eps, xn, w, out);
}

void cuda_backend::norm_gate_up_silu(const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                                     const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up, tensor& act) {
    const kernels::gemv_ends e = norm_ends(x, norm_w, eps);
    if (e.norm_x && fuses_residual(x.rows) && w_gate.data && w_up.data && w_gate.type == w_up.type &&
        (w_gate.type == dtype::bf16 || is_quantized(w_gate.type)) && act.type == dtype::bf16 &&
        w_gate.rows == w_up.rows && w_gate.cols == x.cols && w_up.cols == x.cols && act.rows == x.rows &&
        act.cols == w_gate.rows) {
        const kernels::gemv_segment segs[] = {seg_of(w_gate, nullptr), seg_of(w_up, nullptr)};
        if (kernels::gemv_bf16_supported(nullptr, segs, 2, x.rows, x.cols, true, e))
            return kernels::gemv_bf16(nullptr, segs, 2, x.rows, x.cols, false, stream_, bf(act), e);
    }
    backend::norm_gate_up_silu(x, norm_w, eps, xn, w_gate, w_up, gate, up, act);
}

void cuda_backend::matmul_add(const tensor& a, const tensor& w, tensor& tmp, tensor& x) {
    if (fuses_residual(a.rows) && x.type == dtype::f32 && a.type == dtype::bf16 && w.data &&
        (w.type == dtype::bf16 || is_quantized(w.type)) && w.cols == a.cols && x.rows == a.rows && x.cols == w.rows) {
        kernels::gemv_ends e;
        e.add_to_out = true;
        const kernels::gemv_segment seg = seg_of(w, x.data);
        if (kernels::gemv_bf16_supported(bf(a), &seg, 1, a.rows, a.cols, false, e))
            return kernels::gemv_bf16(bf(a), &seg, 1, a.rows, a.cols, true, stream_, nullptr, e);
    }
    backend::matmul_add(a, w, tmp, x);
}

void cuda_backend::matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out) {
    check_bf16(x, "matmul x");
    kernels::gemv_segment segs[kernels::gemv_max_segments];
    bool out_f32 = false;
    const size_t bytes = product_segments(x, w, out, segs, out_f32);
    const int n_seg = int(w.size());
    if (gemv_for(x.rows, *w[0], bytes) && kernels::gemv_bf16_supported(bf(x), segs, n_seg, x.rows, x.cols))
        return kernels::gemv_bf16(bf(x), segs, n_seg, x.rows, x.cols, out_f32, stream_);
    // One product at a time: weights of different types (q4_k q and k with a q6_k v, in a Q4_K_M
    // file), or more rows than the GEMV takes.
    for (size_t i = 0; i < w.size(); ++i) {
        if (!is_quantized(w[i]->type))
            gemm_->bf16_xwt(bf(x), bf(*w[i]), out[i]->data, x.rows, w[i]->rows, x.cols, stream_, out_f32);
        else if (gemv_for(x.rows, *w[i], 0) && kernels::gemv_bf16_supported(bf(x), &segs[i], 1, x.rows, x.cols))
            kernels::gemv_bf16(bf(x), &segs[i], 1, x.rows, x.cols, out_f32, stream_);
        else blocks_gemm(x, *w[i], *out[i], out_f32);
    }
}

void cuda_backend::blocks_gemm(const tensor& x, const tensor& w, tensor& out, bool out_f32) {
    const ggml_type wt = to_ggml_type(w.type);
    if (x.rows <= kernels::tuning().qmma_max_rows && kernels::qmma_supported(wt, x.rows, w.rows, x.cols) &&
        kernels::qmma_workspace_bytes(x.rows, w.rows, x.cols) <= qmma_ws_bytes_)
        return kernels::qmma(wt, bf(x), w.data, out.data, out_f32, x.rows, w.rows, x.cols, qmma_ws_, qmma_ws_bytes_,
                             stream_);
    RL_CHECK(wscratch_ && size_t(w.numel()) <= wscratch_elems_,
             "matmul: no bf16 scratch for a " + shape_of(w) + " " + dtype_name(w.type) + " weight");
    kernels::dequantize_to_bf16(to_ggml_type(w.type), w.data, wscratch_, w.numel(), stream_);
    gemm_->bf16_xwt(bf(x), wscratch_, out.data, x.rows, w.rows, x.cols, stream_, out_f32);
}

void cuda_backend::gate_up_silu(const tensor& x, const tensor& w_gate, const tensor& w_up, tensor& gate, tensor& up,
                                tensor& act) {
    check_bf16(x, "matmul x");
    check_weight(w_gate, "gate weight");
    check_weight(w_up, "up weight");
    check_bf16(act, "silu_mul out");
    RL_CHECK(w_gate.rows == w_up.rows && w_gate.cols == x.cols && w_up.cols == x.cols && act.rows == x.rows &&
                 act.cols == w_gate.rows,
             "gate_up_silu: x " + shape_of(x) + ", w_gate " + shape_of(w_gate) + ", w_up " + shape_of(w_up) + ", act " + shape_of(act));
    const kernels::gemv_segment segs[] = {seg_of(w_gate, nullptr), seg_of(w_up, nullptr)};
    if (gemv_for(x.rows, w_gate, w_gate.bytes() + w_up.bytes()) &&
        kernels::gemv_bf16_supported(bf(x), segs, 2, x.rows, x.cols, true))
        return kernels::gemv_bf16(bf(x), segs, 2, x.rows, x.cols, false, stream_, bf(act));
    backend::gate_up_silu(x, w_gate, w_up, gate, up, act);
}

bool cuda_backend::rope_fits_pool(const rope_params& rq, const rope_params& rk) const {
    // The one rope of q and k that the fused kernels apply: same frequencies, dims and pairing,
    // heads of the pool's head_dim, k with the pool's kv heads.
    return rq.inv_freq && rk.inv_freq && *rq.inv_freq == *rk.inv_freq && rq.rope_dim == rk.rope_dim &&
           rq.neox == rk.neox && rq.head_dim == kv_.head_dim && rk.head_dim == kv_.head_dim &&
           rk.n_heads == kv_.n_kv_heads;
}

void cuda_backend::rope_kv_store(int layer, tensor& q, tensor& k, const tensor& v, const rope_params& rq,
                                 const rope_params& rk) {
    check_rope(q, rq);
    check_rope(k, rk);
    check_bf16(v, "kv_store v");
    check_step_kv(layer);
    if (!rope_fits_pool(rq, rk)) return backend::rope_kv_store(layer, q, k, v, rq, rk);  // unusual shapes: the unfused ops
    op_checks::kv_store(k, v, step_.n_tokens(), kv_);
    upload_inv_freq(*rq.inv_freq);
    kernels::rope_kv_store_bf16(bf(q), bf(k), bf(v), rq.n_heads, rq.rope_dim, rq.neox, inv_freq_d_, layer_kv(layer),
                                meta_, stream_);
}

void cuda_backend::norm_qkv_rope_kv_store(int layer, const tensor& x, const tensor& norm_w, float eps, tensor& xn,
                                          std::span<const tensor* const> w, std::span<tensor* const> out,
                                          const rope_params& rq, const rope_params& rk) {
    kernels::gemv_ends e = norm_ends(x, norm_w, eps);
    if (e.norm_x && fuses_residual(x.rows) && w.size() == 3 && out.size() == 3) {
        check_rope(*out[0], rq);
        check_rope(*out[1], rk);
        check_step_kv(layer);
        kernels::gemv_segment segs[kernels::gemv_max_segments];
        bool out_f32 = false;
        product_segments(x, w, out, segs, out_f32);
        // Also on adjacent pairs: neox pairs (i, i + half) would span two warps.
        if (rope_fits_pool(rq, rk) && !rq.neox && !out_f32) {
            upload_inv_freq(*rq.inv_freq);
            e.rope_inv_freq = inv_freq_d_;
            e.rope_dim = rq.rope_dim;
            e.kv = layer_kv(layer);
            e.step = meta_;
            if (kernels::gemv_bf16_supported(nullptr, segs, 3, x.rows, x.cols, false, e))
                return kernels::gemv_bf16(nullptr, segs, 3, x.rows, x.cols, false, stream_, nullptr, e);
        }
    }
    backend::norm_qkv_rope_kv_store(layer, x, norm_w, eps, xn, w, out, rq, rk);
}

} // namespace rl::cuda_detail
