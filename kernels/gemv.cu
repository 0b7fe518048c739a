// gemv.cu: decode's skinny matmuls, out_s[n, m_s] = x[n, k] . w_s[m_s, k]^T for n <= 8 rows and up
// to three weight matrices s that share x (q, k and v; gate and up): one launch instead of three
// cuBLASLt GEMMs plus their split-K reductions. bf16 operands, fp32 accumulation, bf16 or f32
// out. In GLU mode (gate and up) one warp computes row j of both and writes only
// bf16(silu(gate) * up), from the bf16-rounded gate and up exactly as silu_mul would: the
// activation kernel and the gate/up round trip through memory go away. (An earlier version
// fused silu into the down projection's input instead: that recomputes silu once per output row
// for every input value, and was slower than cuBLASLt on a large model.)
// At small n the product is a stream over the weights, each byte read once: one warp per R
// consecutive output rows; each lane loads 16-byte chunks of those R rows (U*R chunks in flight,
// through the non-allocating L1 path, so x stays cached) and dots them with the n rows of x.
// R > 1 at larger n amortises each x chunk (load and convert) over R weight chunks; the FMAs
// (n per weight) are what limits n = 8. Needs k % 8 == 0 and 16-byte aligned x and w.
// Decode is launch-latency bound at small models, so the kernel also hides latency and saves
// launches: each warp loads its first weight chunks before pdl_wait (weights are never written by
// an earlier kernel, so they stream in while the previous kernel finishes), and two optional ends
// replace the residual kernels: a prologue that takes the f32 residual stream and applies RMSNorm
// itself (each CTA sums the row's squares and keeps the normalised bf16 row in shared memory,
// exactly what rms_norm would have written), and an epilogue that adds the bf16-rounded product
// into the f32 residual (what add would have done). A SmolLM2 layer then needs no norm or add
// kernel. A third end takes decode's rope and KV store: the warp that computes rows 2i and 2i+1
// of q or k (R is even and segments hold whole heads, so a rotated pair never spans two warps)
// rotates them, and k and v rows go straight into the paged pool; the rope_kv_store launch goes.
// Exercised by tests/test_gpu_fused.cpp; the dispatch (which n go here) is in gemm.cpp; the
// parameters, the weight load and the two ends are in gemv_parts.cuh.
#include "gemv_parts.cuh"
#include "launch.cuh"
#include "tuning.h"

#include <string>

namespace rl::kernels {
namespace {

// KS > 1 splits each warp's rows over KS warps of the CTA, each taking a contiguous 1/KS of k
// (whole 8-element chunks), their sums added in shared memory before the epilogue: KS times the
// warps per output row, for matrices with few rows whose one-warp-per-row-pair grid leaves the
// SMs too few warps to keep enough loads in flight (the o and down projections at batch 1; each
// warp's chain of dependent load round trips is then what the kernel waits on). W is the CTA's
// warps (4 or 8); the grid is sized so each CTA takes W / KS row pairs (one row of gate and up
// in GLU mode).
template <int N, int R, int U, bool Glu, int Out, bool Norm, int KS, int W>
__global__ void __launch_bounds__(W * 32) gemv_kernel(const gemv_params p) {
    static_assert(W % KS == 0, "a CTA holds whole groups of KS warps");
    extern __shared__ uint4 xs_raw[];  // Norm: [n][k] bf16
    const int lane = threadIdx.x % 32;
    const int warp_id = int(blockIdx.x) * (W / KS) + int(threadIdx.x) / 32 / KS;
    const int kpart = int(threadIdx.x) / 32 % KS;
    // This warp's share of k: [k_begin, k_end), whole 8-element chunks; the last share may be
    // shorter or empty.
    const int k_share = (p.k / 8 + KS - 1) / KS * 8;
    const int k_begin = min(p.k, kpart * k_share), k_end = min(p.k, k_begin + k_share);
    const uint16_t* wr[R];
    void* orow[R];
    int ocol[R], om[R], oseg[R];
    bool active;
    if constexpr (Glu) {
        static_assert(R == 2, "GLU mode pairs row j of gate with row j of up");
        active = warp_id < p.m_end[0];
        wr[0] = active ? p.w[0] + int64_t(warp_id) * p.k : nullptr;
        wr[1] = active ? p.w[1] + int64_t(warp_id) * p.k : nullptr;
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
            wr[r] = (s2 ? p.w[2] : s1 ? p.w[1] : p.w[0]) + int64_t(j - begin) * p.k;
            orow[r] = s2 ? p.out[2] : s1 ? p.out[1] : p.out[0];
            ocol[r] = j - begin;
            om[r] = end - begin;
            if constexpr (Out == out_rope_kv) oseg[r] = s2 ? 2 : s1 ? 1 : 0;
        }
    }
    // The first weight chunks, before waiting for the previous kernel.
    constexpr int stride = 32 * 8 * U;
    uint4 raw[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
        for (int r = 0; r < R; ++r) raw[u][r] = ld_weight(wr[r], k_begin + lane * 8 + u * 32 * 8, k_end);
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
    pdl_wait();
    pdl_trigger();
    const uint16_t* x = p.x;
    if constexpr (Norm) {
        norm_rows<N, W>(p, reinterpret_cast<uint16_t*>(xs_raw));
        x = reinterpret_cast<const uint16_t*>(xs_raw);
    }
    if (KS == 1 && !active) return;  // (with KS > 1 every warp reaches the barrier below)
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

    for (int c0 = k_begin + lane * 8; c0 < k_end; c0 += stride) {
        if (c0 != k_begin + lane * 8)  // the first chunks were loaded before pdl_wait
#pragma unroll
            for (int u = 0; u < U; ++u)
#pragma unroll
                for (int r = 0; r < R; ++r) raw[u][r] = ld_weight(wr[r], c0 + u * 32 * 8, k_end);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * 32 * 8;
            if (c >= k_end) break;
            float wf[R][8];
#pragma unroll
            for (int r = 0; r < R; ++r) widen8_bf16(raw[u][r], wf[r]);
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
}

template <int N, int R, int U, bool Glu, bool Norm, int KS, int W>
void launch_out(const gemv_params& p, int out, unsigned grid, size_t smem, cudaStream_t s) {
    if constexpr (Glu) launch(gemv_kernel<N, R, U, true, out_bf16, Norm, KS, W>, grid, W * 32, smem, s, p);
    else if (out == out_bf16) launch(gemv_kernel<N, R, U, false, out_bf16, Norm, KS, W>, grid, W * 32, smem, s, p);
    else if (out == out_f32) launch(gemv_kernel<N, R, U, false, out_f32, Norm, KS, W>, grid, W * 32, smem, s, p);
    else if (out == out_rope_kv) launch(gemv_kernel<N, R, U, false, out_rope_kv, Norm, KS, W>, grid, W * 32, smem, s, p);
    else launch(gemv_kernel<N, R, U, false, out_add_f32, Norm, KS, W>, grid, W * 32, smem, s, p);
}

template <int N, int R, int U, bool Glu, int KS = 1, int W = 4>
void launch_n(const gemv_params& p, int out, cudaStream_t s) {
    const int rows_per_cta = (Glu ? W : W * R) / KS;
    const int m = Glu ? p.m_end[0] : p.m_end[gemv_max_segments - 1];
    const unsigned grid = unsigned((m + rows_per_cta - 1) / rows_per_cta);
    if (p.xf) launch_out<N, R, U, Glu, true, KS, W>(p, out, grid, size_t(p.n) * p.k * 2, s);
    else launch_out<N, R, U, Glu, false, KS, W>(p, out, grid, 0, s);
}

// The k split (KS, W) of one or two x rows for this end: tuning().gemv_k_split (tuning.h), whose
// defaults differ by end because the ends' matrices differ in shape (o and down: few rows, long
// or short k; gate and up: many rows, and a norm prologue per CTA; q/k/v: few rows and the norm
// prologue; the LM head: so many rows that one warp per row pair already fills the GPU).
template <int N, bool Glu>
void launch_split(const gemv_split& ks, const gemv_params& p, int out, cudaStream_t s) {
    if (ks.cta_warps == 8) {
        switch (ks.warps_per_row_pair) {
        case 2: launch_n<N, 2, 2, Glu, 2, 8>(p, out, s); break;
        case 4: launch_n<N, 2, 2, Glu, 4, 8>(p, out, s); break;
        default: launch_n<N, 2, 2, Glu, 1, 8>(p, out, s); break;
        }
        return;
    }
    switch (ks.warps_per_row_pair) {
    case 2: launch_n<N, 2, 2, Glu, 2, 4>(p, out, s); break;
    case 4: launch_n<N, 2, 2, Glu, 4, 4>(p, out, s); break;
    default: launch_n<N, 2, 2, Glu, 1, 4>(p, out, s); break;
    }
}

} // namespace

bool gemv_bf16_supported(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool glu,
                         const gemv_ends& ends) {
    if (!segs || n < 1 || n > gemv_max_rows || n_seg < 1 || n_seg > gemv_max_segments) return false;
    if (k <= 0 || k % 8 != 0 || k >= (int64_t(1) << 30)) return false;
    if (ends.norm_x) {
        if (!ends.norm_w || !aligned16(ends.norm_x) || !aligned16(ends.norm_w) || ends.eps < 0.f) return false;
        if (n * k * 2 > gemv_norm_smem_max) return false;  // the normalised rows live in shared memory
    } else if (!x || !aligned16(x)) {
        return false;
    }
    if (glu && (n_seg != 2 || segs[0].m != segs[1].m || ends.add_to_out)) return false;
    if (ends.rope_inv_freq) {
        const paged_kv& kv = ends.kv;
        const step_meta& st = ends.step;
        const int64_t hd = kv.head_dim, kw = int64_t(kv.n_kv_heads) * hd;
        if (glu || ends.add_to_out || n_seg != 3 || hd <= 0 || hd % 2 != 0 || ends.rope_dim <= 0 ||
            ends.rope_dim % 2 != 0 || ends.rope_dim > hd || !kv.k || !kv.v || kv.block_size <= 0)
            return false;
        if (segs[0].m % hd != 0 || segs[1].m != kw || segs[2].m != kw) return false;
        auto aligned4 = [](const void* q) { return (reinterpret_cast<uintptr_t>(q) & 3u) == 0; };
        if (!aligned4(kv.k) || !aligned4(kv.v) || !aligned4(segs[0].out) || !aligned4(segs[1].out) ||
            !aligned4(segs[2].out))
            return false;
        if (!st.positions || !st.row_seq || !st.seq_table || !st.block_tables || st.n_tokens != n) return false;
    }
    if (ends.add_to_out && n_seg != 1) return false;
    int64_t m_total = 0;
    for (int s = 0; s < n_seg; ++s) {
        if (!segs[s].w || (!glu && !segs[s].out) || segs[s].m <= 0 || !aligned16(segs[s].w)) return false;
        m_total += segs[s].m;
    }
    return m_total < (int64_t(1) << 30);
}

void gemv_bf16(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool out_f32,
               rl_stream stream, uint16_t* glu_out, const gemv_ends& ends) {
    RL_CHECK(gemv_bf16_supported(x, segs, n_seg, n, k, glu_out != nullptr, ends),
             "gemv_bf16: unsupported shape or alignment (n " + std::to_string(n) + ", k " + std::to_string(k) + ")");
    RL_CHECK(!ends.add_to_out || out_f32, "gemv_bf16: adding into the output needs an f32 output");
    gemv_params p{};
    int end = 0;
    for (int s = 0; s < n_seg; ++s) {
        p.w[s] = segs[s].w;
        p.out[s] = segs[s].out;
        end += int(segs[s].m);
        p.m_end[s] = end;
    }
    for (int s = n_seg; s < gemv_max_segments; ++s) p.m_end[s] = end;  // empty trailing segments
    p.x = x;
    p.glu_out = glu_out;
    p.n = int(n);
    p.k = int(k);
    p.xf = ends.norm_x;
    p.norm_w = ends.norm_w;
    p.norm_w_bf16 = ends.norm_w_bf16;
    p.eps = ends.eps;
    RL_CHECK(!ends.rope_inv_freq || !out_f32, "gemv_bf16: the rope + KV store end writes bf16");
    p.inv_freq = ends.rope_inv_freq;
    p.rope_half = ends.rope_dim / 2;
    p.kv = ends.kv;
    p.st = ends.step;
    const int out = ends.rope_inv_freq ? int(out_rope_kv)
                    : ends.add_to_out  ? int(out_add_f32)
                    : out_f32          ? int(out_mode::out_f32)
                                       : int(out_bf16);
    // Short rows (k <= tuning().gemv_deep_k, e.g. SmolLM2's 576 and 1536) at one or two x rows:
    // 4 chunks per row in flight per lane, so a 576-wide row is loaded whole before pdl_wait and a
    // 1536-wide one in two round trips instead of three. Long rows (Llama's 4096) keep 2, which
    // measured faster there (dev/notes/kernel-switches.md); where between the two the line lies
    // is open.
    const kernel_tuning& t = tuning();
    if (k <= t.gemv_deep_k && n <= 2) {  // (its kernels hold at most 2 x rows)
        if (n == 1 && glu_out) launch_n<1, 2, 4, true>(p, out, stream);
        else if (n == 1) launch_n<1, 2, 4, false>(p, out, stream);
        else if (glu_out) launch_n<2, 2, 4, true>(p, out, stream);
        else launch_n<2, 2, 4, false>(p, out, stream);
        return;
    }
    // One or two x rows: two output rows per warp (each x chunk, loaded and widened once, then
    // serves two weight rows, which streamed markedly faster than one row per warp), each row
    // pair over 1, 2 or 4 warps by end (launch_split). Short rows (the deep_k branch above) never
    // reach it.
    if (n <= 2) {
        const gemv_end end = glu_out ? gemv_end::glu
                             : out == out_rope_kv ? gemv_end::rope
                             : out == out_add_f32 ? gemv_end::add
                                                  : gemv_end::out;
        const gemv_split& ks = t.gemv_k_split[n - 1][int(end)];
        if (n == 1) glu_out ? launch_split<1, true>(ks, p, out, stream) : launch_split<1, false>(ks, p, out, stream);
        else glu_out ? launch_split<2, true>(ks, p, out, stream) : launch_split<2, false>(ks, p, out, stream);
        return;
    }
    if (glu_out) {
        if (n <= 4) launch_n<4, 2, 2, true>(p, out, stream);
        else launch_n<8, 2, 1, true>(p, out, stream);
    } else if (n <= 4) launch_n<4, 2, 2, false>(p, out, stream);
    else launch_n<8, 4, 1, false>(p, out, stream);
}

} // namespace rl::kernels
