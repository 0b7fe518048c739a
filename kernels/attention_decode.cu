// attention_decode.cu: paged attention for single-token rows (decode). One CTA per (row, kv head,
// chunk of up to 8 query heads of that kv head's GQA group), so each K/V row is read once for
// the whole group. 4 warps split the context into 32-key tiles (warp w takes tiles w, w+4, ...);
// within a tile lane j scores key j against every head of the group (q in shared memory,
// pre-scaled by scale*log2(e) so exp2 gives the softmax), the warp keeps an online softmax
// (running max m, sum l, output o with lane owning dims lane, lane+32, ...), and at the end the
// 4 warps' partial states are merged through shared memory. No score matrix is materialised.
// Split-K: at small batch (rows x kv heads far below the SM count) blockIdx.z also picks one of
// n_split slices of the context; the slice length is computed in the kernel from the row's
// context, so a CUDA graph captured for a batch size stays right as contexts grow. Each slice
// writes its partial (max, sum, unnormalised output) to a workspace and counts itself in on a
// per-(row, head chunk) counter; the slice that arrives last merges the partials and resets the
// counter (a separate merge kernel cost one more launch per layer, ~6 us of a 30 us SmolLM2 step
// share). Without split-K a batch-1 step ran 8 CTAs on 132 SMs (33 us per layer for 256 keys).
// Exercised by tests/test_gpu_kernels.cpp (decode and mixed steps, GQA 9:3, 32:8, 16:2).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <algorithm>
#include <cmath>

namespace rl::kernels {
namespace {

constexpr int n_warps = 4;
constexpr float log2e = 1.4426950408889634f;

// D: head_dim (multiple of 32). GP: query heads per CTA (1, 2, 4 or 8; unused ones are zero).
// N consecutive bf16 -> floats with one 4/8/16-byte load where N allows (V rows: lane owns dims
// lane*N .. lane*N+N-1, so a warp reads the row in one wide, coalesced instruction).
template <int N>
__device__ __forceinline__ void load_bf16_n(const uint16_t* p, float (&v)[N]) {
    if constexpr (N == 8) {
        load8_bf16(p, v);
    } else if constexpr (N == 4) {
        const uint2 r = *reinterpret_cast<const uint2*>(p);
        v[0] = __uint_as_float(r.x << 16), v[1] = __uint_as_float(r.x & 0xFFFF0000u);
        v[2] = __uint_as_float(r.y << 16), v[3] = __uint_as_float(r.y & 0xFFFF0000u);
    } else if constexpr (N == 2) {
        const uint32_t r = *reinterpret_cast<const uint32_t*>(p);
        v[0] = __uint_as_float(r << 16), v[1] = __uint_as_float(r & 0xFFFF0000u);
    } else {
#pragma unroll
        for (int t = 0; t < N; ++t) v[t] = bf16_to_f32(p[t]);
    }
}

// Partial state of one (row, head, split): m, l, then o[D], all fp32.
__host__ __device__ constexpr int64_t part_floats(int d) { return int64_t(d) + 2; }

// Called by every thread of a split CTA after it wrote its partial states (base: split 0 of
// the CTA's first head; heads n_split * part_floats apart). Counts the CTA in; the last of the
// n_split CTAs merges all partials into out (the CTA's first head's row slice) and resets the
// counter for the next launch. Slices past a short context left m = -inf, l = 0 and weigh 0;
// slice 0 always holds key 0, so M is finite. Partials are read through L2 (__ldcg): other CTAs
// wrote them, and this SM's L1 may hold none of it coherently.
template <int D>
__device__ void merge_if_last(const float* base, int gn, int n_split, int* counter, uint16_t* out) {
    __shared__ bool last;
    __threadfence();  // this thread's partial writes are visible before the count says so
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1) == n_split - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
        const int h = i / D, d = i % D;
        const float* ph = base + int64_t(h) * n_split * part_floats(D);
        float M = -INFINITY;
        for (int s = 0; s < n_split; ++s) M = fmaxf(M, __ldcg(ph + s * part_floats(D)));
        float L = 0.f, O = 0.f;
        for (int s = 0; s < n_split; ++s) {
            const float* p = ph + s * part_floats(D);
            const float l = __ldcg(p + 1);
            if (l == 0.f) continue;  // empty slice (its o was never written)
            const float f = exp2f(__ldcg(p) - M);
            L += l * f;
            O += __ldcg(p + 2 + d) * f;
        }
        out[int64_t(h) * D + d] = f32_to_bf16(O / L);
    }
    if (threadIdx.x == 0) *counter = 0;
}

// Split: n_split > 1 (partials, counters and the last CTA's merge; compiled out otherwise, as the
// merge's registers cost the unsplit kernel occupancy: 89 vs 72 at head_dim 64, 4 heads).
template <int D, int GP, bool Split>
__global__ void __launch_bounds__(n_warps * 32)
    attention_decode_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv, step_meta st,
                            const int32_t* __restrict__ rows, int n_heads, int group, float scale_log2, int n_split,
                            float* __restrict__ ws, int* __restrict__ counters) {
    pdl_wait();
    pdl_trigger();
    constexpr int dpl = D / 32;  // output dims per lane
    __shared__ float q_s[GP][D];
    __shared__ float red_m[n_warps][GP], red_l[n_warps][GP];
    __shared__ float red_o[n_warps][GP][D];

    const int row = rows[blockIdx.x];
    const int kvh = blockIdx.y;
    const int hc = int(blockIdx.z) / n_split, split = int(blockIdx.z) % n_split;
    const int h_first = kvh * group + hc * GP;  // first query head of this CTA
    const int gn = min(GP, group - hc * GP);    // heads this CTA writes
    const int seq = st.row_seq[row];
    const int ctx = st.positions[row] + 1;  // causal: keys 0 .. position
    // This CTA's keys [k_begin, k_end): slices of whole 32-key tiles.
    const int slice = (((ctx + n_split - 1) / n_split) + 31) / 32 * 32;
    const int k_begin = split * slice, k_end = min(ctx, k_begin + slice);
    float* part = Split ? ws + ((int64_t(blockIdx.x) * n_heads + h_first) * n_split + split) * part_floats(D) : nullptr;
    // After this CTA's partials are written: count it in; the last slice merges them all.
    auto finish_split = [&] {
        if constexpr (Split)
            merge_if_last<D>(part - int64_t(split) * part_floats(D), gn, n_split,
                             counters + (int64_t(blockIdx.x) * gridDim.y + kvh) * (gridDim.z / n_split) + hc,
                             out + row * int64_t(n_heads) * D + int64_t(h_first) * D);
    };
    if (Split && k_begin >= k_end) {  // nothing left for this slice: an empty partial state
        for (int h = threadIdx.x; h < gn; h += blockDim.x) {
            part[int64_t(h) * n_split * part_floats(D)] = -INFINITY;
            part[int64_t(h) * n_split * part_floats(D) + 1] = 0.f;
        }
        finish_split();
        return;
    }
    const int32_t* bt = st.block_tables + st.seq_table[seq];
    const int64_t q_stride = int64_t(n_heads) * D;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    for (int i = threadIdx.x; i < GP * D; i += blockDim.x) {
        const int h = i / D, d = i % D;
        q_s[h][d] = h < gn ? bf16_to_f32(q[row * q_stride + int64_t(h_first + h) * D + d]) * scale_log2 : 0.f;
    }
    __syncthreads();

    float m[GP], l[GP], o[GP][dpl];
#pragma unroll
    for (int h = 0; h < GP; ++h) {
        m[h] = -INFINITY;
        l[h] = 0.f;
#pragma unroll
        for (int t = 0; t < dpl; ++t) o[h][t] = 0.f;
    }

    for (int base = k_begin + warp * 32; base < k_end; base += n_warps * 32) {
        const int j = base + lane;
        const bool valid = j < k_end;
        int slot = 0;  // token slot of key j in the layer's pool (block * block_size + offset)
        float s[GP];
#pragma unroll
        for (int h = 0; h < GP; ++h) s[h] = 0.f;
        if (valid) {
            slot = bt[j / kv.block_size] * kv.block_size + j % kv.block_size;
            const uint16_t* kr = kv.k + int64_t(slot) * tok_stride + int64_t(kvh) * D;
#pragma unroll
            for (int c = 0; c < D; c += 8) {
                float kf[8];
                load8_bf16(kr + c, kf);
#pragma unroll
                for (int h = 0; h < GP; ++h)
#pragma unroll
                    for (int e = 0; e < 8; ++e) s[h] += q_s[h][c + e] * kf[e];
            }
        }
        // Online softmax update. Lane 0 of every tile is a valid key, so m_new is finite and
        // exp2(-inf - m_new) == 0 covers both the first tile and the invalid lanes.
        float p[GP];
#pragma unroll
        for (int h = 0; h < GP; ++h) {
            const float sv = valid ? s[h] : -INFINITY;
            const float m_new = fmaxf(m[h], warp_max(sv));
            const float alpha = exp2f(m[h] - m_new);
            p[h] = valid ? exp2f(sv - m_new) : 0.f;
            l[h] = l[h] * alpha + warp_sum(p[h]);
            m[h] = m_new;
#pragma unroll
            for (int t = 0; t < dpl; ++t) o[h][t] *= alpha;
        }
        // o += p_j * v_j over the tile's valid keys: lane j broadcasts its slot and weights, the
        // warp reads V row j coalesced (lane owns dims lane*dpl .. lane*dpl + dpl - 1).
        // Several V rows in flight per batch (the loop is bound by the latency of these loads);
        // 8 at head_dim 64, 4 above, which keeps every instantiation spill-free (-Xptxas -v).
        constexpr int VR = D <= 64 ? 8 : 4;
        const int n_valid = min(32, k_end - base);
        for (int j0 = 0; j0 < n_valid; j0 += VR) {
            float vv[VR][dpl];
#pragma unroll
            for (int u = 0; u < VR; ++u) {
                const int sj = __shfl_sync(0xFFFFFFFFu, slot, (j0 + u) & 31);
                const uint16_t* vr = kv.v + int64_t(sj) * tok_stride + int64_t(kvh) * D + lane * dpl;
                if (j0 + u < n_valid) load_bf16_n(vr, vv[u]);
                else
#pragma unroll
                    for (int t = 0; t < dpl; ++t) vv[u][t] = 0.f;
            }
#pragma unroll
            for (int h = 0; h < GP; ++h)
#pragma unroll
                for (int u = 0; u < VR; ++u) {
                    const float pj = __shfl_sync(0xFFFFFFFFu, p[h], (j0 + u) & 31);  // 0 for invalid keys
#pragma unroll
                    for (int t = 0; t < dpl; ++t) o[h][t] += pj * vv[u][t];
                }
        }
    }

    // Merge the warps' partial softmax states. A warp that saw no tile has m = -inf, l = 0, o = 0
    // and contributes exp2(-inf) = 0; warp 0 always saw key 0, so M is finite.
    if (lane == 0)
#pragma unroll
        for (int h = 0; h < GP; ++h) {
            red_m[warp][h] = m[h];
            red_l[warp][h] = l[h];
        }
#pragma unroll
    for (int h = 0; h < GP; ++h)
#pragma unroll
        for (int t = 0; t < dpl; ++t) red_o[warp][h][lane * dpl + t] = o[h][t];
    __syncthreads();
    for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
        const int h = i / D, d = i % D;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < n_warps; ++w) M = fmaxf(M, red_m[w][h]);
        float L = 0.f, O = 0.f;
#pragma unroll
        for (int w = 0; w < n_warps; ++w) {
            const float f = exp2f(red_m[w][h] - M);
            L += red_l[w][h] * f;
            O += red_o[w][h][d] * f;
        }
        if constexpr (Split) {
            float* ph = part + int64_t(h) * n_split * part_floats(D);
            if (d == 0) ph[0] = M, ph[1] = L;
            ph[2 + d] = O;
        } else {
            out[row * q_stride + int64_t(h_first + h) * D + d] = f32_to_bf16(O / L);
        }
    }
    finish_split();
}

template <int D, int GP>
void launch_family(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
            int n_rows, int n_heads, int group, float scale_log2, int n_split, float* ws, int* cnt, cudaStream_t stream) {
    const dim3 grid{unsigned(n_rows), unsigned(kv.n_kv_heads), unsigned((group + GP - 1) / GP * n_split)};
    if (n_split > 1)
        launch(attention_decode_kernel<D, GP, true>, grid, n_warps * 32, 0, stream, q, out, kv, st, rows, n_heads, group,
               scale_log2, n_split, ws, cnt);
    else
        launch(attention_decode_kernel<D, GP, false>, grid, n_warps * 32, 0, stream, q, out, kv, st, rows, n_heads, group,
               scale_log2, n_split, ws, cnt);
}

template <int D>
void launch_d(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
              int n_rows, int n_heads, int group, float scale_log2, int n_split, float* ws, int* cnt, cudaStream_t stream) {
    // Smallest head chunk that covers the group (one CTA per kv head up to groups of 8).
    if (group <= 1) launch_family<D, 1>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream);
    else if (group <= 2) launch_family<D, 2>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream);
    else if (group <= 4) launch_family<D, 4>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream);
    else launch_family<D, 8>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream);
}

} // namespace

int attention_decode_splits(int n_rows, int n_heads, int n_kv_heads, int sms) {
    if (n_rows <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0) return 1;
    const int group = n_heads / n_kv_heads;
    const int chunks = group <= 1 ? 1 : group <= 2 ? 1 : group <= 4 ? 1 : (group + 7) / 8;
    const int64_t ctas = int64_t(n_rows) * n_kv_heads * chunks;
    const int64_t want = 2 * int64_t(std::max(sms, 1));  // two CTAs per SM
    return int(std::clamp<int64_t>((want + ctas - 1) / ctas, 1, attention_decode_max_splits));
}

int64_t attention_decode_ws_floats(int n_rows, int n_heads, int head_dim, int n_split) {
    return n_split > 1 ? int64_t(n_rows) * n_heads * n_split * part_floats(head_dim) : 0;
}

void attention_decode_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                           const int32_t* rows, int n_rows, int n_heads, float scale, rl_stream stream, int n_split,
                           float* ws, int64_t ws_floats, int* counters, int64_t n_counters) {
    RL_CHECK(q && out && kv.k && kv.v && rows, "attention_decode_bf16: null pointer");
    RL_CHECK(step.positions && step.row_seq && step.seq_table && step.block_tables, "attention_decode_bf16: step not set");
    RL_CHECK(kv.n_kv_heads > 0 && kv.block_size > 0 && n_heads > 0 && n_heads % kv.n_kv_heads == 0,
             "attention_decode_bf16: n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " +
                 std::to_string(kv.n_kv_heads));
    RL_CHECK(kv.n_kv_heads <= 65535 && n_rows >= 0, "attention_decode_bf16: bad grid");
    RL_CHECK(aligned16(kv.k) && aligned16(kv.v), "attention_decode_bf16: the KV pool must be 16-byte aligned");
    RL_CHECK(n_split >= 1 && n_split <= attention_decode_max_splits,
             "attention_decode_bf16: n_split " + std::to_string(n_split) + " outside 1.." +
                 std::to_string(attention_decode_max_splits));
    RL_CHECK(n_split == 1 || (ws && ws_floats >= attention_decode_ws_floats(n_rows, n_heads, kv.head_dim, n_split)),
             "attention_decode_bf16: workspace too small for " + std::to_string(n_split) + " splits");
    RL_CHECK(n_split == 1 || (counters && n_counters >= int64_t(n_rows) * n_heads),
             "attention_decode_bf16: split-K needs n_rows x n_heads zeroed counters");
    if (n_rows == 0) return;
    const int group = n_heads / kv.n_kv_heads;
    const float sl = scale * log2e;
    switch (kv.head_dim) {
    case 64: launch_d<64>(q, out, kv, step, rows, n_rows, n_heads, group, sl, n_split, ws, counters, stream); break;
    case 96: launch_d<96>(q, out, kv, step, rows, n_rows, n_heads, group, sl, n_split, ws, counters, stream); break;
    case 128: launch_d<128>(q, out, kv, step, rows, n_rows, n_heads, group, sl, n_split, ws, counters, stream); break;
    case 256: launch_d<256>(q, out, kv, step, rows, n_rows, n_heads, group, sl, n_split, ws, counters, stream); break;
    default: RL_THROW("attention_decode_bf16: head_dim " + std::to_string(kv.head_dim) + " is not supported (64, 96, 128, 256)");
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
