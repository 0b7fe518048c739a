// gemv.cu: decode's skinny matmuls, out_s[n, m_s] = x[n, k] . w_s[m_s, k]^T for n <= 8 rows and up
// to three weight matrices s that share x (q, k and v; gate and up): one launch instead of three
// cuBLASLt GEMMs plus their split-K reductions. bf16 operands, fp32 accumulation, bf16 or f32
// out. In GLU mode (gate and up) one warp computes row j of both and writes only
// bf16(silu(gate) * up), from the bf16-rounded gate and up exactly as silu_mul would: the
// activation kernel and the gate/up round trip through memory go away. (An earlier version
// fused silu into the down projection's input instead: that recomputes silu m times per input
// value, ~58 M expf per Llama-3-8B layer, and was slower than cuBLASLt there.)
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
// Exercised by tests/test_gpu_fused.cpp; the dispatch (which n go here) is in gemm.cpp.
#include "bf16_vec.cuh"
#include "launch.cuh"
#include "kernels.h"
#include "kv_slot.cuh"
#include "rope_math.cuh"

#include <string>

namespace rl::kernels {
namespace {

constexpr int warps = 4;
static_assert(gemv_max_segments == 3, "gemv_kernel selects among three segments");

struct gemv_params {
    const uint16_t* w[gemv_max_segments];
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

__device__ __forceinline__ uint4 ld_stream(const uint16_t* p) {
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}

__device__ __forceinline__ uint4 ld_weight(const uint16_t* w, int c, int k) {
    return (w && c < k) ? ld_stream(w + c) : make_uint4(0, 0, 0, 0);
}

// The Norm prologue: xs[i][0..k) = bf16(xf[i] * rsqrt(mean(xf[i]^2) + eps) * w), for every row.
// Called by all threads of the CTA (two barriers).
template <int N>
__device__ void norm_rows(const gemv_params& p, uint16_t* xs) {
    __shared__ float red[N][warps];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i >= p.n) break;
        float ss = 0.f;
        for (int c = threadIdx.x * 4; c < p.k; c += warps * 32 * 4) {
            const float4 v = *reinterpret_cast<const float4*>(p.xf + int64_t(i) * p.k + c);
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        ss = warp_sum(ss);
        if (lane == 0) red[i][warp] = ss;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i >= p.n) break;
        float t = 0.f;
#pragma unroll
        for (int w = 0; w < warps; ++w) t += red[i][w];
        const float inv = rsqrtf(t / float(p.k) + p.eps);
        for (int c = threadIdx.x * 8; c < p.k; c += warps * 32 * 8) {
            float v[8], g[8];
            load8_f32(p.xf + int64_t(i) * p.k + c, v);
            if (p.norm_w_bf16) load8_bf16(static_cast<const uint16_t*>(p.norm_w) + c, g);
            else load8_f32(static_cast<const float*>(p.norm_w) + c, g);
#pragma unroll
            for (int e = 0; e < 8; ++e) v[e] = v[e] * inv * g[e];
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

template <int N, int R, int U, bool Glu, int Out, bool Norm>
__global__ void __launch_bounds__(warps * 32) gemv_kernel(const gemv_params p) {
    extern __shared__ uint4 xs_raw[];  // Norm: [n][k] bf16
    const int lane = threadIdx.x % 32;
    const int warp_id = int(blockIdx.x) * warps + int(threadIdx.x) / 32;
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
        for (int r = 0; r < R; ++r) raw[u][r] = ld_weight(wr[r], lane * 8 + u * 32 * 8, p.k);
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
        norm_rows<N>(p, reinterpret_cast<uint16_t*>(xs_raw));
        x = reinterpret_cast<const uint16_t*>(xs_raw);
    }
    if (!active) return;
    // The residual add's operand, loaded now so its round trip overlaps the dot products instead
    // of trailing them (each element is read and written by this warp's lane 0 only).
    [[maybe_unused]] float res[R][N];
    if constexpr (Out == out_add_f32) {
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int i = 0; i < N; ++i)
                res[r][i] = lane == 0 && wr[r] && i < p.n ? static_cast<const float*>(orow[r])[int64_t(i) * om[r] + ocol[r]] : 0.f;
    }

    float acc[R][N];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < N; ++i) acc[r][i] = 0.f;

    for (int c0 = lane * 8; c0 < p.k; c0 += stride) {
        if (c0 != lane * 8)  // the first chunks were loaded before pdl_wait
#pragma unroll
            for (int u = 0; u < U; ++u)
#pragma unroll
                for (int r = 0; r < R; ++r) raw[u][r] = ld_weight(wr[r], c0 + u * 32 * 8, p.k);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * 32 * 8;
            if (c >= p.k) break;
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

template <int N, int R, int U, bool Glu, bool Norm>
void launch_out(const gemv_params& p, int out, unsigned grid, size_t smem, cudaStream_t s) {
    if constexpr (Glu) launch(gemv_kernel<N, R, U, true, out_bf16, Norm>, grid, warps * 32, smem, s, p);
    else if (out == out_bf16) launch(gemv_kernel<N, R, U, false, out_bf16, Norm>, grid, warps * 32, smem, s, p);
    else if (out == out_f32) launch(gemv_kernel<N, R, U, false, out_f32, Norm>, grid, warps * 32, smem, s, p);
    else if (out == out_rope_kv) launch(gemv_kernel<N, R, U, false, out_rope_kv, Norm>, grid, warps * 32, smem, s, p);
    else launch(gemv_kernel<N, R, U, false, out_add_f32, Norm>, grid, warps * 32, smem, s, p);
}

template <int N, int R, int U, bool Glu>
void launch_n(const gemv_params& p, int out, cudaStream_t s) {
    const int rows_per_cta = Glu ? warps : warps * R;
    const int m = Glu ? p.m_end[0] : p.m_end[gemv_max_segments - 1];
    const unsigned grid = unsigned((m + rows_per_cta - 1) / rows_per_cta);
    if (p.xf) launch_out<N, R, U, Glu, true>(p, out, grid, size_t(p.n) * p.k * 2, s);
    else launch_out<N, R, U, Glu, false>(p, out, grid, 0, s);
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
    // Short rows (k <= deep_k, SmolLM2's 576 and 1536) at one or two x rows: 4 chunks per row in
    // flight per lane, so a 576-wide row is loaded whole before pdl_wait and a 1536-wide one in
    // two round trips instead of three. Long rows (Llama's 4096) keep 2, which measured faster
    // there. RIDGELINE_GEMV_DEEP_K / _N override the bounds, for A/B timing.
    static const int deep_k = env_int("RIDGELINE_GEMV_DEEP_K", 2048), deep_n = env_int("RIDGELINE_GEMV_DEEP_N", 2);
    if (k <= deep_k && n <= deep_n) {
        if (n == 1 && glu_out) launch_n<1, 2, 4, true>(p, out, stream);
        else if (n == 1) launch_n<1, 2, 4, false>(p, out, stream);
        else if (glu_out) launch_n<2, 2, 4, true>(p, out, stream);
        else launch_n<2, 2, 4, false>(p, out, stream);
        return;
    }
    if (glu_out) {
        if (n == 1) launch_n<1, 2, 2, true>(p, out, stream);
        else if (n == 2) launch_n<2, 2, 2, true>(p, out, stream);
        else if (n <= 4) launch_n<4, 2, 2, true>(p, out, stream);
        else launch_n<8, 2, 1, true>(p, out, stream);
    } else if (n == 1) launch_n<1, 2, 2, false>(p, out, stream);  // two rows per warp: 4.1 TB/s vs 2.8 with one (ncu, H200)
    else if (n == 2) launch_n<2, 2, 2, false>(p, out, stream);
    else if (n <= 4) launch_n<4, 2, 2, false>(p, out, stream);
    else launch_n<8, 4, 1, false>(p, out, stream);
}

} // namespace rl::kernels
