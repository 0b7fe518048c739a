// attention_merge.cuh: the two merges of split-K decode attention (included by
// attention_decode.cu only). Each of a (row, head chunk)'s n_used slices leaves a partial
// softmax state per head (max m, sum l, unnormalised output o[D]); the merge weights slice s of
// head h by exp2(m_s - max) and divides by the weighted sum of l.
//  - cluster_merge (Hopper): the slices are one thread-block cluster, each state stays in its
//    own shared memory and rank 0 reads the others' through distributed shared memory.
//  - merge_if_last (any GPU: where clusters are unavailable, or forced by a test): the states go
//    to a global workspace and the last CTA to count itself in on a per-(row, head chunk) counter
//    merges them.
// The cluster form saves a fence, an atomic and the L2 round trips of the partials, which at
// small batch sit on the critical path of every layer (dev/notes/kernel-switches.md).
#pragma once

#include "bf16_vec.cuh"
#include "kernels.h"

#include <cooperative_groups.h>

namespace rl::kernels {
namespace {

constexpr int n_warps = 4;  // per decode attention CTA

// Partial state of one (row, head, split) in the global workspace: m, l, then o[D], all fp32.
__host__ __device__ constexpr int64_t part_floats(int d) { return int64_t(d) + 2; }

// The merge itself, by every thread of the merging CTA: thread t weighs (head t / ms, slice
// t % ms) from that slice's m and l (read_ml(h, s, m, l); only for heads this CTA writes and
// slices that hold keys, the rest weigh 0, not NaN), then out[h * D + d] for every head h < gn
// is the slices' partial outputs read_o(slice, h * D + d), weighted and divided by the weighted
// sum of l. The o loads of all slices are issued together (the loop is unrolled to the maximum).
template <int D, int GP, typename ReadML, typename ReadO>
__device__ __forceinline__ void merge_slices(int gn, int n_used, ReadML read_ml, ReadO read_o, uint16_t* out) {
    constexpr int ms = attention_decode_max_splits;
    static_assert(GP * ms <= n_warps * 32, "one thread per (head, slice) weight");
    static_assert((ms & (ms - 1)) == 0, "the xor reductions span ms lanes of one warp");
    __shared__ float w_s[GP][ms];
    __shared__ float inv_l[GP];
    const int h = threadIdx.x / ms, s = threadIdx.x % ms;
    const bool valid = h < gn && s < n_used;
    float m = 0.f, l = 0.f;
    if (valid) read_ml(h, s, m, l);
    float mx = valid ? m : -INFINITY;
#pragma unroll
    for (int o = ms / 2; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xFFFFFFFFu, mx, o));
    const float f = valid ? exp2f(m - mx) : 0.f;
    float lf = valid ? l * f : 0.f;
#pragma unroll
    for (int o = ms / 2; o > 0; o >>= 1) lf += __shfl_xor_sync(0xFFFFFFFFu, lf, o);
    if (h < gn) {
        w_s[h][s] = f;
        if (s == 0) inv_l[h] = 1.f / lf;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
        const int hh = i / D;
        float o = 0.f;
#pragma unroll
        for (int k = 0; k < ms; ++k)
            if (k < n_used) o += read_o(k, i) * w_s[hh][k];
        out[i] = f32_to_bf16(o * inv_l[hh]);
    }
}

// Called by every thread of a split CTA after it wrote its partial states (base: split 0 of
// the CTA's first head; heads n_split * part_floats apart). Counts the CTA in; the last of the
// n_used CTAs merges their partials into out (the CTA's first head's row slice) and resets the
// counter for the next launch. Partials are read through L2 (__ldcg): other CTAs wrote them,
// and this SM's L1 holds none coherently.
template <int D, int GP>
__device__ void merge_if_last(const float* base, int gn, int n_split, int n_used, int* counter, uint16_t* out) {
    __shared__ bool last;
    __threadfence();  // this thread's partial writes are visible before the count says so
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1) == n_used - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    auto part = [&](int h, int k) { return base + (int64_t(h) * n_split + k) * part_floats(D); };
    merge_slices<D, GP>(
        gn, n_used, [&](int h, int k, float& m, float& l) { m = __ldcg(part(h, k)), l = __ldcg(part(h, k) + 1); },
        [&](int k, int i) { return __ldcg(part(i / D, k) + 2 + i % D); }, out);
    if (threadIdx.x == 0) *counter = 0;
}

// The cluster merge: every CTA of the cluster (cluster rank = slice) calls it with its state in
// its own shared memory (m_s[GP], l_s[GP], o_s[GP][D]), slices past the context included, with
// gn 0, as cluster barriers need every CTA. Rank 0 writes out. Compiled to nothing below sm_90;
// the launcher never picks it there (cluster_launchable in attention_decode.cu).
template <int D, int GP>
__device__ void cluster_merge(const float* m_s, const float* l_s, const float* o_s, int gn, int n_used, uint16_t* out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    namespace cg = cooperative_groups;
    cg::cluster_group cl = cg::this_cluster();
    cl.sync();  // every slice's state is in its shared memory
    if (cl.block_rank() == 0)
        merge_slices<D, GP>(
            gn, n_used,
            [&](int h, int k, float& m, float& l) { m = cl.map_shared_rank(m_s, k)[h], l = cl.map_shared_rank(l_s, k)[h]; },
            [&](int k, int i) { return cl.map_shared_rank(o_s, k)[i]; }, out);
    cl.sync();  // rank 0 has read every slice's shared memory before any CTA exits
#endif
}

} // namespace
} // namespace rl::kernels
