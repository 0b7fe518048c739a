// attention_decode.cu: paged attention for single-token rows (decode). One CTA per (row, kv head,
// chunk of up to 8 query heads of that kv head's GQA group), so each K/V row is read once for
// the whole group; at batch 1 one query head per CTA (heads_per_cta: a shorter chain). 4 warps
// split the CTA's keys into 32-key tiles (warp w takes tiles w, w+4, ...); within a tile lane j
// scores key j against every head of the group (q in shared memory, pre-scaled by
// scale*log2(e) so exp2 gives the softmax), the warp keeps an online softmax
// (running max m, sum l, output o with lane owning dims lane*dpl ..), and at the end the 4 warps'
// partial states are merged through shared memory. No score matrix is materialised.
// Latency, not bandwidth, bounds this kernel at small batch (a SmolLM2 step reads ~200 KB of KV
// per layer), so the loads are ordered to shorten the chain of dependent round trips: the step's
// metadata and block-table entries are read before pdl_wait (the host wrote them before the
// step's first kernel), and each tile's K row (up to 64 dims) and its first value rows are issued
// together, so at head_dim 64 a tile costs one round trip, not one for K and one per batch of V.
// Split-K: at small batch (rows x kv heads far below the SM count) blockIdx.z also picks one of
// n_split slices of the context. The graph of a batch size is recorded once while contexts grow,
// so the slices are sized in the kernel: whole tiles, about n_warps or more per slice (a one-tile
// slice idles 3 warps and adds a partial to merge; 5 tiles go 3 + 2), at most n_split slices;
// unused slices exit at once, and a context of one slice is written directly. The slices'
// partial states are merged in the same kernel (a separate merge kernel cost one more launch
// per layer): through distributed shared memory where the slices can form one thread-block
// cluster (Hopper), else through a global workspace by the last slice to arrive
// (attention_merge.cuh).
// Exercised by tests/test_gpu_kernels.cpp (decode and mixed steps, GQA 9:3, 32:8, 16:2, 4:4,
// 28:4, single-row decode steps, long contexts that use every slice).
#include "attention_merge.cuh"
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "tuning.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>

namespace rl::kernels {
namespace {

constexpr float log2e = 1.4426950408889634f;

// N consecutive bf16 held raw in ceil(N/2) 32-bit registers (a V row slice: lane owns N dims, so
// a warp reads the row in one wide, coalesced instruction); widened to fp32 at use.
template <int N>
struct raw_bf16 {
    uint32_t w[(N + 1) / 2];
};

template <int N>
__device__ __forceinline__ raw_bf16<N> load_raw(const uint16_t* p) {
    raw_bf16<N> r;
    if constexpr (N == 8) {
        const uint4 t = *reinterpret_cast<const uint4*>(p);
        r.w[0] = t.x, r.w[1] = t.y, r.w[2] = t.z, r.w[3] = t.w;
    } else if constexpr (N == 4) {
        const uint2 t = *reinterpret_cast<const uint2*>(p);
        r.w[0] = t.x, r.w[1] = t.y;
    } else if constexpr (N == 2) {
        r.w[0] = *reinterpret_cast<const uint32_t*>(p);
    } else {
#pragma unroll
        for (int t = 0; t < N; ++t) r.w[t / 2] = t % 2 ? r.w[t / 2] | (uint32_t(p[t]) << 16) : uint32_t(p[t]);
    }
    return r;
}

template <int N>
__device__ __forceinline__ raw_bf16<N> zero_raw() {
    raw_bf16<N> r;
#pragma unroll
    for (int i = 0; i < (N + 1) / 2; ++i) r.w[i] = 0u;
    return r;
}

// Element t of a raw row (t a compile-time index after unrolling).
template <int N>
__device__ __forceinline__ float raw_at(const raw_bf16<N>& r, int t) {
    return __uint_as_float(t % 2 ? r.w[t / 2] & 0xFFFF0000u : r.w[t / 2] << 16);
}

// How much of a tile is loaded in its first round trip: kp 16-byte chunks of the lane's K row
// (all of it at head_dim 64, the first 64 dims up to 128) and the first vp V rows; the rest
// follows in batches (K chunks as the scores need them, V in vr rows).
// Only the split kernel (small batch: latency-bound, few CTAs per SM) preloads, all 32 V rows at
// head_dim 64; the unsplit one (large batch) loads as it goes and keeps its registers for
// occupancy (64 at head_dim 64, 4 heads; a preloading version needed 104). Sized so no
// instantiation spills (-Xptxas -v, nvcc 13.0) but the split one at head_dim 128 with 2 heads
// (12 bytes).
template <int D, bool Split>
struct tile_shape {
    static constexpr int dpl = D / 32;  // output dims per lane
    static constexpr int kc = D / 8;    // 16-byte chunks in a K row
    static constexpr int kp = !Split ? 0 : kc < 8 ? kc : D >= 256 ? 4 : 8;
    static constexpr int vr = D <= 64 ? 8 : 4;
    static constexpr int vp = !Split ? 0 : D <= 64 ? 32 : D <= 128 ? 8 : 4;
};

// Tiles per slice and slices used for a context of n_tiles tiles (see the header comment).
__device__ __forceinline__ int slice_tiles(int n_tiles, int n_split) {
    const int want = min(n_split, (n_tiles + n_warps - 1) / n_warps);
    return (n_tiles + want - 1) / want;
}

// Mode: unsplit (one CTA per (row, head chunk)), split_global (slices merged through a global
// workspace by the last CTA to arrive) or split_cluster (slices of a cluster merged through
// distributed shared memory). The merges are compiled only into the split kernels, as their
// registers cost the unsplit kernel occupancy.
enum decode_mode { unsplit = 0, split_global = 1, split_cluster = 2 };

template <int D, int GP, int Mode>
__global__ void __launch_bounds__(n_warps * 32, Mode == unsplit ? 0 : 1)
    attention_decode_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv, step_meta st,
                            const int32_t* __restrict__ rows, int n_heads, int group, float scale_log2, int n_split,
                            float* __restrict__ ws, int* __restrict__ counters) {
    pdl_trigger();
    constexpr bool Split = Mode != unsplit;
    using S = tile_shape<D, Split>;
    constexpr int dpl = S::dpl;
    __shared__ float q_s[GP][D];
    __shared__ float red_m[n_warps][GP], red_l[n_warps][GP];
    __shared__ float red_o[n_warps][GP][D];
    __shared__ float cta_m[GP], cta_l[GP];  // split_cluster: this slice's state (its o in red_o[0])

    // Before pdl_wait: only what the host uploaded ahead of the step (see the header comment).
    const int row = rows[blockIdx.x];
    const int kvh = blockIdx.y;
    const int hc = int(blockIdx.z) / n_split, split = int(blockIdx.z) % n_split;
    const int h_first = kvh * group + hc * GP;  // first query head of this CTA
    const int gn = min(GP, group - hc * GP);    // heads this CTA writes
    const int ctx = st.positions[row] + 1;     // causal: keys 0 .. position
    const int n_tiles = (ctx + 31) / 32;
    const int per = Split ? slice_tiles(n_tiles, n_split) : n_tiles;
    const int n_used = (n_tiles + per - 1) / per;
    if (split >= n_used) {  // reads nothing the step's kernels write
        if constexpr (Mode == split_cluster)
            if (n_used > 1) cluster_merge<D, GP>(cta_m, cta_l, &red_o[0][0][0], 0, n_used, nullptr);
        return;
    }
    const int t_end = min(n_tiles, (split + 1) * per);
    const int32_t* bt = st.block_tables + st.seq_table[st.row_seq[row]];
    const int64_t q_stride = int64_t(n_heads) * D;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    // Token slot (block * block_size + offset) of this lane's key in tile t, -1 past the context.
    auto slot_of = [&](int t) {
        const int j = t * 32 + lane;
        return t < t_end && j < ctx ? bt[j / kv.block_size] * kv.block_size + j % kv.block_size : -1;
    };
    int tile = split * per + warp;
    int slot = slot_of(tile);
    pdl_wait();

    // V row of the tile's key j (whose slot lane j holds in sl), read by the whole warp; zero past
    // the context.
    auto v_row = [&](int sl, int j) {
        const int sj = __shfl_sync(0xFFFFFFFFu, sl, j);
        return sj >= 0 ? load_raw<dpl>(kv.v + int64_t(sj) * tok_stride + int64_t(kvh) * D + lane * dpl)
                       : zero_raw<dpl>();
    };
    // A tile's first round trip: the lane's K row (kp chunks) and V rows 0 .. vp-1 (warp-wide).
    uint4 kraw[S::kp > 0 ? S::kp : 1];
    raw_bf16<dpl> vraw[S::vp > 0 ? S::vp : 1];
    auto load_tile = [&](int sl) {
        const uint16_t* kr = kv.k + int64_t(sl) * tok_stride + int64_t(kvh) * D;
#pragma unroll
        for (int c = 0; c < S::kp; ++c)
            kraw[c] = sl >= 0 ? *reinterpret_cast<const uint4*>(kr + 8 * c) : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
        for (int u = 0; u < S::vp; ++u) vraw[u] = v_row(sl, u);
    };
    if (tile < t_end) load_tile(slot);
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

    for (; tile < t_end; tile += n_warps) {
        const int next_slot = slot_of(tile + n_warps);  // the next tile's block-table entry, early
        const bool valid = slot >= 0;
        const uint16_t* kr = kv.k + int64_t(slot) * tok_stride + int64_t(kvh) * D;
        float s[GP];
#pragma unroll
        for (int h = 0; h < GP; ++h) s[h] = 0.f;
#pragma unroll
        for (int c = 0; c < S::kc; ++c) {
            float kf[8];
            if (c < S::kp) {
                widen8_bf16(kraw[c], kf);
            } else if (valid) {
                load8_bf16(kr + 8 * c, kf);
            } else {
#pragma unroll
                for (int e = 0; e < 8; ++e) kf[e] = 0.f;
            }
#pragma unroll
            for (int h = 0; h < GP; ++h)
#pragma unroll
                for (int e = 0; e < 8; ++e) s[h] += q_s[h][8 * c + e] * kf[e];
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
        // o += p_j * v_j: lane j broadcasts its weights; V rows past the context are zero. The
        // preloaded rows first, then the rest in batches of vr (j0 + u stays below 32: vr | 32).
        auto add_v = [&](const raw_bf16<dpl>& v, int j) {
#pragma unroll
            for (int h = 0; h < GP; ++h) {
                const float pj = __shfl_sync(0xFFFFFFFFu, p[h], j);
#pragma unroll
                for (int t = 0; t < dpl; ++t) o[h][t] += pj * raw_at<dpl>(v, t);
            }
        };
#pragma unroll
        for (int u = 0; u < S::vp; ++u) add_v(vraw[u], u);
        const int n_valid = min(32, ctx - tile * 32);
        for (int j0 = S::vp; j0 < n_valid; j0 += S::vr) {
            raw_bf16<dpl> vv[S::vr];
#pragma unroll
            for (int u = 0; u < S::vr; ++u) vv[u] = v_row(slot, j0 + u);
#pragma unroll
            for (int u = 0; u < S::vr; ++u) add_v(vv[u], j0 + u);
        }
        slot = next_slot;
        if (tile + n_warps < t_end) load_tile(slot);
    }

    // Merge the warps' partial softmax states. A warp that saw no tile has m = -inf, l = 0, o = 0
    // and contributes exp2(-inf) = 0; warp 0 always saw a tile, so M is finite.
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
    float* part = Mode == split_global ? ws + ((int64_t(blockIdx.x) * n_heads + h_first) * n_split + split) * part_floats(D) : nullptr;
    const bool direct = !Split || n_used == 1;  // one slice: its state is the answer
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
        if (direct) {
            out[row * q_stride + int64_t(h_first + h) * D + d] = f32_to_bf16(O / L);
        } else if (Mode == split_cluster) {
            red_o[0][h][d] = O;  // only this thread reads or writes element (h, d) of red_o[.]
            if (d == 0) cta_m[h] = M, cta_l[h] = L;
        } else {
            float* ph = part + int64_t(h) * n_split * part_floats(D);
            if (d == 0) ph[0] = M, ph[1] = L;
            ph[2 + d] = O;
        }
    }
    if constexpr (Mode == split_cluster)
        if (!direct) {
            __syncthreads();  // cta_m, cta_l written by other threads of this CTA
            cluster_merge<D, GP>(cta_m, cta_l, &red_o[0][0][0], gn, n_used, out + row * q_stride + int64_t(h_first) * D);
        }
    if constexpr (Mode == split_global)
        if (!direct)
            merge_if_last<D, GP>(part - int64_t(split) * part_floats(D), gn, n_split, n_used,
                                 counters + (int64_t(blockIdx.x) * gridDim.y + kvh) * (gridDim.z / n_split) + hc,
                                 out + row * q_stride + int64_t(h_first) * D);
}

// Whether the n_split slices of this kernel can run as one cluster here: the binary has the
// sm_90 code (cluster_merge is empty below it), the device launches clusters, and a cluster of
// n_split of these CTAs fits on one GPC (sizes past 8 are Hopper's non-portable ones). Where it
// can, the cluster merge is always taken: it saves the workspace writes, a fence, an atomic and
// the partials' L2 round trips on every split launch. Tests force the global merge
// (force_fallbacks_for_test, tuning.h) to cover the GPUs that lack clusters. Asked once per
// (kernel, device, n_split): the first step of a shape runs eagerly before its graph is captured,
// so no query runs inside a capture. (Keyed by <D, GP>, not by the kernel's type: every
// instantiation has the same signature. Devices past the first 16 take the global merge.)
template <int D, int GP>
bool cluster_launchable(dim3 grid, int n_split) {
    constexpr int max_devices = 16;
    auto* k = attention_decode_kernel<D, GP, split_cluster>;
    using per_split = std::array<std::atomic<int>, attention_decode_max_splits + 1>;  // 0 unknown, 1 yes, 2 no
    static std::array<per_split, max_devices> known{};
    int dev = 0;
    if (fallbacks_forced().attention_global_merge || n_split < 2 || cudaGetDevice(&dev) != cudaSuccess || dev < 0 ||
        dev >= max_devices)
        return false;
    std::atomic<int>& v = known[size_t(dev)][size_t(n_split)];
    if (v.load() == 0) {
        bool ok = false;
        cudaFuncAttributes fa{};
        int can = 0, clusters = 0;
        if (cudaFuncGetAttributes(&fa, k) == cudaSuccess && fa.binaryVersion >= 90 &&
            cudaDeviceGetAttribute(&can, cudaDevAttrClusterLaunch, dev) == cudaSuccess && can &&
            cudaFuncSetAttribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) == cudaSuccess) {
            cudaLaunchConfig_t cfg{};
            cfg.gridDim = grid;
            cfg.blockDim = dim3{n_warps * 32};
            cudaLaunchAttribute attr{};
            attr.id = cudaLaunchAttributeClusterDimension;
            attr.val.clusterDim.x = 1, attr.val.clusterDim.y = 1, attr.val.clusterDim.z = unsigned(n_split);
            cfg.attrs = &attr;
            cfg.numAttrs = 1;
            ok = cudaOccupancyMaxActiveClusters(&clusters, k, &cfg) == cudaSuccess && clusters >= 1;
        }
        cudaGetLastError();  // a refused query is an answer, not an error for the next check
        v.store(ok ? 1 : 2);
    }
    return v.load() == 1;
}

template <int D, int GP>
void launch_family(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
            int n_rows, int n_heads, int group, float scale_log2, int n_split, float* ws, int* cnt, cudaStream_t stream) {
    const dim3 grid{unsigned(n_rows), unsigned(kv.n_kv_heads), unsigned((group + GP - 1) / GP * n_split)};
    if (cluster_launchable<D, GP>(grid, n_split))
        launch_cluster(attention_decode_kernel<D, GP, split_cluster>, grid, n_warps * 32, dim3{1, 1, unsigned(n_split)},
                       0, stream, q, out, kv, st, rows, n_heads, group, scale_log2, n_split, ws, cnt);
    else if (n_split > 1)
        launch(attention_decode_kernel<D, GP, split_global>, grid, n_warps * 32, 0, stream, q, out, kv, st, rows,
               n_heads, group, scale_log2, n_split, ws, cnt);
    else
        launch(attention_decode_kernel<D, GP, unsplit>, grid, n_warps * 32, 0, stream, q, out, kv, st, rows, n_heads,
               group, scale_log2, n_split, ws, cnt);
}

// Query heads per CTA. Small batches (at most tuning().attn_one_head_rows rows) take one: there
// the kernel is latency-bound, what costs is a CTA's chain of dependent steps, and one head per
// CTA shortens it by the GQA group size (more CTAs; each K/V row is then read once per head, the
// repeats from L2). Larger batches have CTAs enough and pay for those re-reads, so they take the
// smallest power of two that covers the group, capped by tuning().attn_max_heads_per_cta (each
// K/V row then read once per kv head). The split count is not capped for one head per CTA:
// capping it lost at long contexts, as each slice's chain grows with its share of the context.
int heads_per_cta(int group, int n_rows) {
    const kernel_tuning& t = tuning();
    if (n_rows <= t.attn_one_head_rows) return 1;
    int gp = 1;
    while (gp < group && gp * 2 <= t.attn_max_heads_per_cta) gp *= 2;
    return gp;
}

template <int D>
void launch_d(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
              int n_rows, int n_heads, int group, float scale_log2, int n_split, float* ws, int* cnt, cudaStream_t stream) {
    switch (heads_per_cta(group, n_rows)) {
    case 1: launch_family<D, 1>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream); break;
    case 2: launch_family<D, 2>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream); break;
    case 4: launch_family<D, 4>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream); break;
    default: launch_family<D, 8>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, n_split, ws, cnt, stream);
    }
}

} // namespace

int attention_decode_splits(int n_rows, int n_heads, int n_kv_heads, int sms) {
    if (n_rows <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0) return 1;
    const int group = n_heads / n_kv_heads;
    const int gp = heads_per_cta(group, n_rows);
    const int64_t ctas = int64_t(n_rows) * n_kv_heads * ((group + gp - 1) / gp);
    const int64_t want = 2 * int64_t(std::max(sms, 1));  // two CTAs per SM
    // tuning().attn_max_splits may lower the cap (and so the cluster size) below the kernel's.
    const int cap = std::clamp(tuning().attn_max_splits, 1, attention_decode_max_splits);
    return int(std::clamp<int64_t>((want + ctas - 1) / ctas, 1, cap));
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
