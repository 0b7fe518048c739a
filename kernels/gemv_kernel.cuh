// gemv_kernel.cuh: the GEMV kernel of gemv.cu as a template over the weight format Q
// (quant_formats.cuh: bf16 or a GGUF block format), with its launch helpers. Included by gemv.cu
// (bf16, the tuned dispatch) and gemv_quant.cu (the block formats); the description of the
// kernel, its ends and its k split is at the top of gemv.cu. A lane decodes whole units of Q
// (8 bf16 elements, or one 32-, 64- or 128-element part of a block) and dots them piece by piece
// (8 elements) with the x rows, so the block formats get every end of the bf16 kernel: the norm
// prologue, GLU, rope + KV store and the residual add.
#pragma once
#include "gemv_int8.cuh"
#include "gemv_parts.cuh"
#include "launch.cuh"
#include "quant_formats.cuh"
#include "tuning.h"

#include <algorithm>

namespace rl::kernels {
namespace {

// Unit u of a weight row, or zeros (which decode to zero weights in every format) past the
// share's end or for a row the warp does not have.
template <class Q>
__device__ __forceinline__ typename Q::raw ld_unit(const uint8_t* w, int u, int u_end) {
    return (w && u < u_end) ? Q::load(w, u) : Q::zero();
}

// acc[r][i] += unit `unit` of weight row r . x row i, the unit decoded to fp32 piece by piece.
template <class Q, int N, int R, bool Norm>
__device__ __forceinline__ void dot_unit_fp32(const typename Q::raw (&raw)[R], const uint16_t* x, const gemv_params& p,
                                              int unit, float (&acc)[R][N]) {
#pragma unroll
    for (int pc = 0; pc < Q::unit_elems / 8; ++pc) {
        const int c = unit * Q::unit_elems + pc * 8;
        float wf[R][8];
#pragma unroll
        for (int r = 0; r < R; ++r) Q::piece(raw[r], pc, wf[r]);
#pragma unroll
        for (int i = 0; i < N; ++i) {
            if (i >= p.n) break;
            float xf[8];
            const uint4* xp = reinterpret_cast<const uint4*>(x + int64_t(i) * p.k + c);
            widen8_bf16(Norm ? *xp : __ldg(xp), xf);
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[r][i] = fmaf(xf[e], wf[r][e], acc[r][i]);
        }
    }
}

// The same through dp4a, against x's q8 blocks in shared memory (gemv_int8.cuh).
template <class Q, int N, int R>
__device__ __forceinline__ void dot_unit_int8(const typename Q::raw (&raw)[R], const uint8_t* xs8, const gemv_params& p,
                                              int unit, float (&acc)[R][N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i >= p.n) break;
        const auto xq = load_x_unit<Q>(xs8 + int64_t(i) * i8_row_bytes(p.k), p.k, unit);
#pragma unroll
        for (int r = 0; r < R; ++r) acc[r][i] += qf::dot8(raw[r], xq);
    }
}

// KS > 1 splits each warp's rows over KS warps of the CTA, each taking a contiguous 1/KS of k
// (whole 8-element chunks), their sums added in shared memory before the epilogue: KS times the
// warps per output row, for matrices with few rows whose one-warp-per-row-pair grid leaves the
// SMs too few warps to keep enough loads in flight (the o and down projections at batch 1; each
// warp's chain of dependent load round trips is then what the kernel waits on). W is the CTA's
// warps (4 or 8); the grid is sized so each CTA takes W / KS row pairs (one row of gate and up
// in GLU mode).
// I8 (block formats only): x is quantized into q8 blocks in shared memory and each unit is dotted
// through dp4a (gemv_int8.cuh, quant_dot.cuh) instead of decoded to fp32.
template <class Q, int N, int R, int U, bool Glu, int Out, bool Norm, int KS, int W, bool I8 = false>
__global__ void __launch_bounds__(W * 32) gemv_kernel(const gemv_params p) {
    static_assert(W % KS == 0, "a CTA holds whole groups of KS warps");
    static_assert(!I8 || Q::unit_elems % 32 == 0, "the int8 path takes whole 32-element x blocks");
    extern __shared__ uint4 xs_raw[];  // I8: [n] rows of i8_row_bytes(k); else Norm: [n][k] bf16
    const int lane = threadIdx.x % 32;
    // Loop (the int8 path without a k split): the host caps the grid at what is resident at once
    // (launch_out) and each CTA takes row groups blockIdx.x, + gridDim.x, ..., so x is quantized
    // once per CTA rather than once per group; for GLU at one x row a group's weights are about
    // the size of the x rows each CTA re-reads, and the quantize prologue would be half the work.
    constexpr bool Loop = I8 && KS == 1;
    const uint16_t* x = p.x;
    [[maybe_unused]] const uint8_t* xs8 = reinterpret_cast<const uint8_t*>(xs_raw);
    for (int blk = int(blockIdx.x), first = 1;; blk += int(gridDim.x), first = 0) {
        const int warp_id = blk * (W / KS) + int(threadIdx.x) / 32 / KS;
        const int kpart = int(threadIdx.x) / 32 % KS;
        // This warp's share of the row's units (Q::unit_elems elements each): [u_begin, u_end); the
        // last share may be shorter or empty.
        const int n_units = p.k / Q::unit_elems;
        const int u_share = (n_units + KS - 1) / KS;
        const int u_begin = min(n_units, kpart * u_share), u_end = min(n_units, u_begin + u_share);
        const int64_t row_bytes = int64_t(p.k / Q::block_elems) * Q::block_bytes;
        const uint8_t* wr[R];
        void* orow[R];
        int ocol[R], om[R], oseg[R];
        bool active;
        if constexpr (Glu) {
            static_assert(R == 2, "GLU mode pairs row j of gate with row j of up");
            active = warp_id < p.m_end[0];
            wr[0] = active ? p.w[0] + int64_t(warp_id) * row_bytes : nullptr;
            wr[1] = active ? p.w[1] + int64_t(warp_id) * row_bytes : nullptr;
        } else {
            const int j0 = warp_id * R;
            const int m_total = p.m_end[gemv_max_segments - 1];  // the host repeats the last end
            active = j0 < m_total;
    #pragma unroll
            for (int r = 0; r < R; ++r) {
                const int j = j0 + r;
                wr[r] = nullptr;
                if (j >= m_total) continue;
                // Selects instead of p.w[s]: a dynamic index would copy the parameters to local memory.
                const bool s1 = j >= p.m_end[0], s2 = j >= p.m_end[1];
                const int begin = s2 ? p.m_end[1] : s1 ? p.m_end[0] : 0;
                const int end = s2 ? p.m_end[2] : s1 ? p.m_end[1] : p.m_end[0];
                wr[r] = (s2 ? p.w[2] : s1 ? p.w[1] : p.w[0]) + int64_t(j - begin) * row_bytes;
                orow[r] = s2 ? p.out[2] : s1 ? p.out[1] : p.out[0];
                ocol[r] = j - begin;
                om[r] = end - begin;
                if constexpr (Out == out_rope_kv) oseg[r] = s2 ? 2 : s1 ? 1 : 0;
            }
        }
        // The first weight units, before waiting for the previous kernel.
        constexpr int stride = 32 * U;
        typename Q::raw raw[U][R];
    #pragma unroll
        for (int u = 0; u < U; ++u)
    #pragma unroll
            for (int r = 0; r < R; ++r) raw[u][r] = ld_unit<Q>(wr[r], u_begin + lane + u * 32, u_end);
        // The rope end's positions, pool slots and frequencies: step metadata the host uploaded before
        // the step's first kernel, so read before pdl_wait, off the epilogue's path.
        [[maybe_unused]] int rpos[N];
        [[maybe_unused]] int64_t rslot[N];
        [[maybe_unused]] float rfreq[R / 2 > 0 ? R / 2 : 1];
        if constexpr (Out == out_rope_kv) {
    #pragma unroll
            for (int i = 0; i < N; ++i) {
                rpos[i] = i < p.n ? p.st.positions[i] : 0;
                rslot[i] = i < p.n ? kv_slot(p.kv, p.st, i) : -1;
            }
    #pragma unroll
            for (int r = 0; r < R; r += 2) {
                const int d = wr[r] ? ocol[r] % p.kv.head_dim : 0;
                rfreq[r / 2] = d < 2 * p.rope_half ? p.inv_freq[d / 2] : 0.f;
            }
        }
        if (first) {
            pdl_wait();
            pdl_trigger();
            if constexpr (I8) {
                quantize_rows<Q, N, W, Norm>(p, reinterpret_cast<uint8_t*>(xs_raw));
            } else if constexpr (Norm) {
                norm_rows<N, W>(p, reinterpret_cast<uint16_t*>(xs_raw));
                x = reinterpret_cast<const uint16_t*>(xs_raw);
            }
        }
        // (With KS > 1 every warp reaches the barrier below; a looping CTA meets no barrier after its
        // first group, and a warp with no rows in one group has none in the later ones either.)
        if (KS == 1 && !active) return;
        // The residual add's operand, loaded now so its round trip overlaps the dot products instead
        // of trailing them (each element is read and written by lane 0 of the group's first warp only).
        [[maybe_unused]] float res[R][N];
        if constexpr (Out == out_add_f32) {
    #pragma unroll
            for (int r = 0; r < R; ++r)
    #pragma unroll
                for (int i = 0; i < N; ++i)
                    res[r][i] = lane == 0 && kpart == 0 && wr[r] && i < p.n ? static_cast<const float*>(orow[r])[int64_t(i) * om[r] + ocol[r]] : 0.f;
        }

        float acc[R][N];
    #pragma unroll
        for (int r = 0; r < R; ++r)
    #pragma unroll
            for (int i = 0; i < N; ++i) acc[r][i] = 0.f;

        for (int u0 = u_begin + lane; u0 < u_end; u0 += stride) {
            if (u0 != u_begin + lane)  // the first units were loaded before pdl_wait
    #pragma unroll
                for (int u = 0; u < U; ++u)
    #pragma unroll
                    for (int r = 0; r < R; ++r) raw[u][r] = ld_unit<Q>(wr[r], u0 + u * 32, u_end);
    #pragma unroll
            for (int u = 0; u < U; ++u) {
                const int unit = u0 + u * 32;
                if (unit >= u_end) break;
                if constexpr (I8) dot_unit_int8<Q, N, R>(raw[u], xs8, p, unit, acc);
                else dot_unit_fp32<Q, N, R, Norm>(raw[u], x, p, unit, acc);
            }
        }
        if constexpr (KS > 1) {
            // Each warp's partial sums to shared memory; the group's first warp adds them up and
            // carries on with lane 0 holding the total (the epilogue's warp_sum then returns it).
            __shared__ float part[W][R][N];
    #pragma unroll
            for (int r = 0; r < R; ++r)
    #pragma unroll
                for (int i = 0; i < N; ++i) {
                    const float t = warp_sum(acc[r][i]);
                    if (lane == 0) part[threadIdx.x / 32][r][i] = t;
                }
            __syncthreads();
            if (!active || kpart != 0) return;
    #pragma unroll
            for (int r = 0; r < R; ++r)
    #pragma unroll
                for (int i = 0; i < N; ++i) {
                    float t = 0.f;
    #pragma unroll
                    for (int q = 0; q < KS; ++q) t += part[threadIdx.x / 32 + q][r][i];
                    acc[r][i] = lane == 0 ? t : 0.f;
                }
        }
        if constexpr (Glu) {
            const int m = p.m_end[0];
    #pragma unroll
            for (int i = 0; i < N; ++i) {
                if (i >= p.n) break;
                const float g = bf16_to_f32(f32_to_bf16(warp_sum(acc[0][i])));
                const float u = bf16_to_f32(f32_to_bf16(warp_sum(acc[1][i])));
                if (lane == 0) p.glu_out[int64_t(i) * m + warp_id] = f32_to_bf16(g / (1.f + __expf(-g)) * u);
            }
        } else if constexpr (Out == out_rope_kv) {
            static_assert(R % 2 == 0, "a rotated pair is rows 2i and 2i+1 of one warp");
    #pragma unroll
            for (int r = 0; r < R; r += 2)
    #pragma unroll
                for (int i = 0; i < N; ++i) {
                    if (i >= p.n) break;
                    const float s0 = warp_sum(acc[r][i]), s1 = warp_sum(acc[r + 1][i]);
                    if (lane == 0 && wr[r])
                        rope_kv_pair(p.kv, oseg[r], ocol[r] % p.kv.head_dim < 2 * p.rope_half, rfreq[r / 2], rpos[i],
                                     rslot[i], ocol[r], static_cast<uint16_t*>(orow[r]) + int64_t(i) * om[r], s0, s1);
                }
        } else {
    #pragma unroll
            for (int r = 0; r < R; ++r)
    #pragma unroll
                for (int i = 0; i < N; ++i) {
                    if (i >= p.n) break;
                    const float s = warp_sum(acc[r][i]);
                    if (lane == 0 && wr[r]) {
                        const int64_t o = int64_t(i) * om[r] + ocol[r];
                        if constexpr (Out == out_f32) static_cast<float*>(orow[r])[o] = s;
                        else if constexpr (Out == out_add_f32) static_cast<float*>(orow[r])[o] = res[r][i] + bf16_to_f32(f32_to_bf16(s));
                        else static_cast<uint16_t*>(orow[r])[o] = f32_to_bf16(s);
                    }
                }
        }
        if constexpr (!Loop) return;
        const int warps_total = Glu ? p.m_end[0] : (p.m_end[gemv_max_segments - 1] + R - 1) / R;
        if ((blk + int(gridDim.x)) * W >= warps_total) return;
    }
}

// Every (end, prologue) pair the backend uses: a norm prologue comes with a bf16, rope or GLU
// end, never with the f32 or residual-add ends (the instantiations that would never run are left
// out; a caller asking for one gets an error, not a silent launch).
template <class Q, int N, int R, int U, bool Glu, bool Norm, int KS, int W, bool I8>
void launch_out(const gemv_params& p, int out, unsigned grid, size_t smem, cudaStream_t s) {
    const unsigned b = W * 32;
    auto go = [&](void (*kernel)(gemv_params)) {
        // Past the default 48 KiB a kernel must opt in (the int8 path's x at many rows or long k).
        if (smem > 48 * 1024)
            RL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
        unsigned g = grid;
        if constexpr (I8 && KS == 1) {  // a looping kernel: no more CTAs than are resident at once
            int dev = 0, sms = 0, per_sm = 0;
            RL_CUDA_CHECK(cudaGetDevice(&dev));
            RL_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
            RL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, int(b), smem));
            g = std::min(grid, unsigned(std::max(1, per_sm) * sms));
        }
        launch(kernel, g, b, smem, s, p);
    };
    if constexpr (Glu) go(gemv_kernel<Q, N, R, U, true, out_bf16, Norm, KS, W, I8>);
    else if (out == out_bf16) go(gemv_kernel<Q, N, R, U, false, out_bf16, Norm, KS, W, I8>);
    else if constexpr (Norm) {
        RL_CHECK(out == out_rope_kv, "gemv: the norm prologue goes with a bf16, rope or GLU end");
        go(gemv_kernel<Q, N, R, U, false, out_rope_kv, true, KS, W, I8>);
    } else if (out == out_f32) go(gemv_kernel<Q, N, R, U, false, out_f32, false, KS, W, I8>);
    else if (out == out_rope_kv) go(gemv_kernel<Q, N, R, U, false, out_rope_kv, false, KS, W, I8>);
    else go(gemv_kernel<Q, N, R, U, false, out_add_f32, false, KS, W, I8>);
}

template <class Q, int N, int R, int U, bool Glu, int KS = 1, int W = 4, bool I8 = false>
void launch_n(const gemv_params& p, int out, cudaStream_t s) {
    const int rows_per_cta = (Glu ? W : W * R) / KS;
    const int m = Glu ? p.m_end[0] : p.m_end[gemv_max_segments - 1];
    const unsigned grid = unsigned((m + rows_per_cta - 1) / rows_per_cta);
    const size_t smem = I8 ? size_t(p.n) * size_t(i8_row_bytes(p.k)) : p.xf ? size_t(p.n) * p.k * 2 : 0;
    if (p.xf) launch_out<Q, N, R, U, Glu, true, KS, W, I8>(p, out, grid, smem, s);
    else launch_out<Q, N, R, U, Glu, false, KS, W, I8>(p, out, grid, smem, s);
}

// The k split (KS, W) of one or two x rows for this end: tuning().gemv_k_split (tuning.h), whose
// defaults differ by end because the ends' matrices differ in shape (o and down: few rows, long
// or short k; gate and up: many rows, and a norm prologue per CTA; q/k/v: few rows and the norm
// prologue; the LM head: so many rows that one warp per row pair already fills the GPU).
template <class Q, int N, bool Glu>
void launch_split(const gemv_split& ks, const gemv_params& p, int out, cudaStream_t s) {
    if (ks.cta_warps == 8) {
        switch (ks.warps_per_row_pair) {
        case 2: launch_n<Q, N, 2, 2, Glu, 2, 8>(p, out, s); break;
        case 4: launch_n<Q, N, 2, 2, Glu, 4, 8>(p, out, s); break;
        default: launch_n<Q, N, 2, 2, Glu, 1, 8>(p, out, s); break;
        }
        return;
    }
    switch (ks.warps_per_row_pair) {
    case 2: launch_n<Q, N, 2, 2, Glu, 2, 4>(p, out, s); break;
    case 4: launch_n<Q, N, 2, 2, Glu, 4, 4>(p, out, s); break;
    default: launch_n<Q, N, 2, 2, Glu, 1, 4>(p, out, s); break;
    }
}

} // namespace
} // namespace rl::kernels
