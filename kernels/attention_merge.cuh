// attention_merge.cuh: the two merges of split-K decode attention (included by
// attention_decode.cu only). Each of a (row, head chunk)'s n_used slices leaves a partial
// softmax state per head (max m, sum l, unnormalised output o[D]); the merge weights slice s of
// head h by exp2(m_s - max) and divides by the weighted sum of l.
//  - cluster_merge (Hopper): the slices are one thread-block cluster, each state stays in its
//    own shared memory and rank 0 reads the others' through distributed shared memory.
//  - merge_if_last (any GPU; RIDGELINE_ATTN_CLUSTER=0): the states go to a global workspace and
//    the last CTA to count itself in on a per-(row, head chunk) counter merges them.
// The cluster form saves a fence, an atomic and the L2 round trips of the partials: ~7% of a
// SmolLM2 batch-1 step on an H200 (docs/benchmarks.md).
#pragma once

#include "bf16_vec.cuh"
#include "kernels.h"

#include <cooperative_groups.h>

namespace rl::kernels {
namespace {

constexpr int n_warps = 4;  // per decode attention CTA

// Partial state of one (row, head, split) in the global workspace: m, l, then o[D], all fp32.
__host__ __device__ constexpr int64_t part_floats(int d) { return int64_t(d) + 2; }

// Thread t handles (head t / ms, slice t % ms): given that slice's m and l (valid: the head is
// one this CTA writes and the slice holds keys), leaves the slice's weight in w_s[h][s] and
// 1 / (weighted sum of l) in inv_l[h]. Heads past gn weight 0, not NaN. Ends with __syncthreads.
template <int GP>
__device__ __forceinline__ void merge_weights(float m, float l, bool valid, float (*w_s)[attention_decode_max_splits],
                                              float* inv_l, int gn) {
    constexpr int ms = attention_decode_max_splits;
    static_assert(GP * ms <= n_warps * 32, "one thread per (head, slice) weight");
    static_assert((ms & (ms - 1)) == 0, "the xor reductions span ms lanes of one warp");
    const int h = threadIdx.x / ms, s = threadIdx.x % ms;
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
}

// Called by every thread of a split CTA after it wrote its partial states (base: split 0 of
// the CTA's first head; heads n_split * part_floats apart). Counts the CTA in; the last of the
// n_used CTAs merges their partials into out (the CTA's first head's row slice) and resets the
// counter for the next launch. Partials are read through L2 (__ldcg): other CTAs wrote them,
// and this SM's L1 holds none coherently; the loads of all slices are issued together.
template <int D, int GP>
__device__ void merge_if_last(const float* base, int gn, int n_split, int n_used, int* counter, uint16_t* out) {
    __shared__ bool last;
    __shared__ float w_s[GP][attention_decode_max_splits];
    __shared__ float inv_l[GP];
    __threadfence();  // this thread's partial writes are visible before the count says so
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1) == n_used - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    constexpr int ms = attention_decode_max_splits;
    const int h = threadIdx.x / ms, s = threadIdx.x % ms;
    const bool valid = h < gn && s < n_used;
    const float* p = base + (int64_t(h) * n_split + s) * part_floats(D);
    merge_weights<GP>(valid ? __ldcg(p) : 0.f, valid ? __ldcg(p + 1) : 0.f, valid, w_s, inv_l, gn);
    for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
        const int hh = i / D, d = i % D;
        const float* ph = base + int64_t(hh) * n_split * part_floats(D) + 2 + d;
        float o = 0.f;
#pragma unroll
        for (int k = 0; k < ms; ++k)
            if (k < n_used) o += __ldcg(ph + k * part_floats(D)) * w_s[hh][k];
        out[int64_t(hh) * D + d] = f32_to_bf16(o * inv_l[hh]);
    }
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
    __shared__ float w_s[GP][attention_decode_max_splits];
    __shared__ float inv_l[GP];
    cl.sync();  // every slice's state is in its shared memory
    if (cl.block_rank() == 0) {
        constexpr int ms = attention_decode_max_splits;
        const int h = threadIdx.x / ms, s = threadIdx.x % ms;
        const bool valid = h < gn && s < n_used;
        merge_weights<GP>(valid ? cl.map_shared_rank(m_s, s)[h] : 0.f, valid ? cl.map_shared_rank(l_s, s)[h] : 0.f,
                          valid, w_s, inv_l, gn);
        for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
            const int hh = i / D;
            float o = 0.f;
#pragma unroll
            for (int k = 0; k < ms; ++k)
                if (k < n_used) o += cl.map_shared_rank(o_s, k)[i] * w_s[hh][k];
            out[i] = f32_to_bf16(o * inv_l[hh]);
        }
    }
    cl.sync();  // rank 0 has read every slice's shared memory before any CTA exits
#endif
}

} // namespace
} // namespace rl::kernels
