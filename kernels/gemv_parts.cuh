// gemv_parts.cuh: the pieces of gemv.cu's kernel that are not its main loop: the launch
// parameters, the streaming weight load, the RMSNorm prologue and the rope + KV store epilogue.
// Included only by gemv.cu (everything is in an anonymous namespace).
#pragma once
#include "bf16_vec.cuh"
#include "kernels.h"
#include "kv_slot.cuh"
#include "rope_math.cuh"

namespace rl::kernels {

static_assert(gemv_max_segments == 3, "gemv_kernel selects among three segments");

// (Outside the anonymous namespace: gemv.cu hands these to gemv_quant.cu.)
struct gemv_params {
    const uint8_t* w[gemv_max_segments];  // row-major rows of row_bytes (the format's) each
    void* out[gemv_max_segments];
    int m_end[gemv_max_segments];  // exclusive end of each segment in the concatenated rows
    const uint16_t* x;
    uint16_t* glu_out;  // GLU mode: [n, m] bf16(silu(gate) * up)
    int n, k;
    // Norm prologue: x = bf16(rms_norm(xf) * norm_w) instead of the bf16 x above.
    const float* xf;
    const void* norm_w;
    bool norm_w_bf16;
    float eps;
    // Rope + KV store epilogue (out_rope_kv).
    const float* inv_freq;
    int rope_half;
    paged_kv kv;
    step_meta st;
};

// out_add_f32: out[i, j] += bf16(product); out_rope_kv: bf16 out, rope and KV store (rope_kv_pair).
enum out_mode { out_bf16, out_f32, out_add_f32, out_rope_kv };

/// The GEMV over weights in block format Q (a quant_formats.cuh struct): gemv_quant.cuh, built
/// per format by gemv_quant_*.cu.
template <class Q>
void gemv_blocks(const gemv_params& p, int out, bool glu, cudaStream_t s);
/// Its int8 path (x quantized to q8 blocks, dp4a): gemv_int8_launch.cuh, built per format by
/// gemv_int8_*.cu. few_warps: the matrix has too few row pairs to fill the GPU at one warp each.
template <class Q>
void gemv_blocks_i8(const gemv_params& p, int out, bool glu, bool few_warps, cudaStream_t s);

namespace {

// The Norm prologue's first pass: red[i][w] = warp w's share of sum(xf[i]^2), for every row.
// Called by all threads of the CTA (one barrier).
template <int N, int W>
__device__ void norm_partials(const gemv_params& p, float (&red)[N][W]) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i >= p.n) break;
        float ss = 0.f;
        for (int c = threadIdx.x * 4; c < p.k; c += W * 32 * 4) {
            const float4 v = *reinterpret_cast<const float4*>(p.xf + int64_t(i) * p.k + c);
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        ss = warp_sum(ss);
        if (lane == 0) red[i][warp] = ss;
    }
    __syncthreads();
}

// rsqrt(mean(xf[i]^2) + eps) from row i's partial sums.
template <int W>
__device__ __forceinline__ float norm_inv(const gemv_params& p, const float (&red_i)[W]) {
    float t = 0.f;
#pragma unroll
    for (int w = 0; w < W; ++w) t += red_i[w];
    return rsqrtf(t / float(p.k) + p.eps);
}

// Elements [c, c + 8) of normalised row i: xf * inv * norm_w.
__device__ __forceinline__ void norm8(const gemv_params& p, int i, int c, float inv, float (&v)[8]) {
    float g[8];
    load8_f32(p.xf + int64_t(i) * p.k + c, v);
    if (p.norm_w_bf16) load8_bf16(static_cast<const uint16_t*>(p.norm_w) + c, g);
    else load8_f32(static_cast<const float*>(p.norm_w) + c, g);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] = v[e] * inv * g[e];
}

// The Norm prologue: xs[i][0..k) = bf16(xf[i] * rsqrt(mean(xf[i]^2) + eps) * w), for every row.
// Called by all threads of the CTA (two barriers).
template <int N, int W>
__device__ void norm_rows(const gemv_params& p, uint16_t* xs) {
    __shared__ float red[N][W];
    norm_partials<N, W>(p, red);
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i >= p.n) break;
        const float inv = norm_inv<W>(p, red[i]);
        for (int c = threadIdx.x * 8; c < p.k; c += W * 32 * 8) {
            float v[8];
            norm8(p, i, c, inv, v);
            store8_bf16(xs + int64_t(i) * p.k + c, v);
        }
    }
    __syncthreads();
}

// Rows col and col + 1 (col even) of segment seg (0 q, 1 k, 2 v) for one batch row: bf16-rounded
// as the plain GEMV writes them; for q and k rotated by (pos, freq) with rope_bf16's arithmetic
// (rope_math.cuh) when rotate; for k and v also stored at the row's pool offset slot (skipped
// when -1), as rope_kv_store_bf16 would.
__device__ __forceinline__ void rope_kv_pair(const paged_kv& kv, int seg, bool rotate, float freq, int pos,
                                             int64_t slot, int col, uint16_t* out, float s0, float s1) {
    float a = bf16_to_f32(f32_to_bf16(s0)), b = bf16_to_f32(f32_to_bf16(s1));
    if (seg < 2 && rotate) rope_rotate(pos, freq, a, b);
    const uint32_t pair = uint32_t(f32_to_bf16(a)) | (uint32_t(f32_to_bf16(b)) << 16);
    *reinterpret_cast<uint32_t*>(out + col) = pair;
    if (seg > 0 && slot >= 0) *reinterpret_cast<uint32_t*>((seg == 1 ? kv.k : kv.v) + slot + col) = pair;
}

} // namespace
} // namespace rl::kernels
