// kv_store.cu: writes a step's K and V rows into the paged pool. Row r of the batch (position p
// of sequence s) lands in physical block block_tables[seq_table[s] + p / block_size] at offset
// p % block_size; the pool is [num_blocks, block_size, n_kv_heads, head_dim] per layer, so one
// token's K (all kv heads) is one contiguous run of n_kv_heads*head_dim values.
// One CTA per row. rope_kv_store_bf16 fuses the rope of q and k with the store (one launch
// instead of three): the rotated k goes straight to the pool; 16-byte units and one sine/cosine
// table per CTA where the shapes allow, else one CTA per head. Exercised by
// tests/test_gpu_kernels.cpp (through the attention tests) and tests/test_gpu_fused.cpp.
#include "bf16_vec.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "kv_slot.cuh"
#include "rope_math.cuh"

#include <algorithm>

namespace rl::kernels {
namespace {

template <bool Vec>
__global__ void kv_store_kernel(const uint16_t* __restrict__ k, const uint16_t* __restrict__ v, paged_kv kv,
                                step_meta st) {
    pdl_wait();
    pdl_trigger();
    const int row = blockIdx.x;
    const int pos = st.positions[row];
    const int seq = st.row_seq[row];
    // The host validated tables and positions; anything still out of range is skipped rather
    // than written outside the pool.
    if (seq < 0 || seq >= st.n_seqs || pos < 0) return;
    const int blk = st.block_tables[st.seq_table[seq] + pos / kv.block_size];
    if (blk < 0 || blk >= kv.num_blocks) return;
    const int64_t w = int64_t(kv.n_kv_heads) * kv.head_dim;
    const int64_t dst = (int64_t(blk) * kv.block_size + pos % kv.block_size) * w;
    const uint16_t* ks = k + int64_t(row) * w;
    const uint16_t* vs = v + int64_t(row) * w;
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < w; c += int64_t(blockDim.x) * 8) {
            *reinterpret_cast<uint4*>(kv.k + dst + c) = *reinterpret_cast<const uint4*>(ks + c);
            *reinterpret_cast<uint4*>(kv.v + dst + c) = *reinterpret_cast<const uint4*>(vs + c);
        }
    } else {
        for (int64_t c = threadIdx.x; c < w; c += blockDim.x) {
            kv.k[dst + c] = ks[c];
            kv.v[dst + c] = vs[c];
        }
    }
}

// The scalar rope + KV store, for the shapes the vector kernel below does not take (half the
// rope width not a multiple of 8 or over rope_vec_max_half, head_dim not a multiple of 8,
// buffers not 16-byte aligned). One CTA per (row, head): blockIdx.y < n_heads rotates query head
// y in place; the others rotate kv head y - n_heads of k into the pool and copy its v. (One CTA
// per row left a batch-1 step's pairs on a single SM.)
__global__ void rope_kv_store_kernel(uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                     const uint16_t* __restrict__ v, int n_heads, int half, bool neox,
                                     const float* __restrict__ inv_freq, paged_kv kv, step_meta st) {
    pdl_wait();
    pdl_trigger();
    const int row = blockIdx.x, head = blockIdx.y;
    const int pos = st.positions[row];
    const int D = kv.head_dim;
    if (head < n_heads) {
        uint16_t* x = q + (int64_t(row) * n_heads + head) * D;
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            const int i0 = rope_lo(i, half, neox), i1 = rope_hi(i, half, neox);
            float a = bf16_to_f32(x[i0]), b = bf16_to_f32(x[i1]);
            rope_rotate(pos, inv_freq[i], a, b);
            x[i0] = f32_to_bf16(a);
            x[i1] = f32_to_bf16(b);
        }
        return;
    }
    const int64_t slot = kv_slot(kv, st, row);
    if (slot < 0) return;
    const int h = head - n_heads;
    const int64_t src = (int64_t(row) * kv.n_kv_heads + h) * D, dst = slot + int64_t(h) * D;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const int i0 = rope_lo(i, half, neox), i1 = rope_hi(i, half, neox);
        float a = bf16_to_f32(k[src + i0]), b = bf16_to_f32(k[src + i1]);
        rope_rotate(pos, inv_freq[i], a, b);
        kv.k[dst + i0] = f32_to_bf16(a);
        kv.k[dst + i1] = f32_to_bf16(b);
    }
    for (int e = 2 * half + threadIdx.x; e < D; e += blockDim.x) kv.k[dst + e] = k[src + e];  // past rope_dim
    for (int e = threadIdx.x; e < D; e += blockDim.x) kv.v[dst + e] = v[src + e];
}

// The vector form of rope_kv_store_kernel, for prefill's thousands of rows: one CTA per (row,
// group of hpc heads), q heads first, then kv heads; each angle's sine and cosine computed once
// per CTA (before pdl_wait: the position and the frequency table are not written by the step's
// kernels) and shared by every head. A unit of work is 8 pairs moved as two 16-byte words
// (adjacent pairs: 16 consecutive elements; neox: 8 of the first half and the 8 they pair with),
// an 8-element chunk of k past rope_dim, or of v. Needs half % 8 == 0, half <= rope_vec_max_half,
// head_dim % 8 == 0 and 16-byte aligned q, k, v and pool; it replaced the scalar kernel above
// wherever it applies, since 2-byte accesses and one sine/cosine per (head, pair) made that one
// several times slower than its bytes on long prefills.
constexpr int rope_vec_max_half = 128;

template <bool Neox>
__device__ __forceinline__ void rope_unit(const uint16_t* src, uint16_t* dst, int u, int half, const float* sn,
                                          const float* cs) {
    const int lo = Neox ? 8 * u : 16 * u, hi = Neox ? half + 8 * u : 16 * u + 8;
    float a[8], b[8];
    load8_bf16(src + lo, a);
    load8_bf16(src + hi, b);
    if constexpr (Neox) {
#pragma unroll
        for (int p = 0; p < 8; ++p) rope_apply(sn[8 * u + p], cs[8 * u + p], a[p], b[p]);
    } else {  // pair p of the unit: elements 2p, 2p + 1 of the 16, i.e. of a then of b
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            rope_apply(sn[8 * u + p], cs[8 * u + p], a[2 * p], a[2 * p + 1]);
            rope_apply(sn[8 * u + 4 + p], cs[8 * u + 4 + p], b[2 * p], b[2 * p + 1]);
        }
    }
    store8_bf16(dst + lo, a);
    store8_bf16(dst + hi, b);
}

template <bool Neox>
__global__ void __launch_bounds__(128)
    rope_kv_store_vec_kernel(uint16_t* __restrict__ q, const uint16_t* __restrict__ k, const uint16_t* __restrict__ v,
                             int n_heads, int half, const float* __restrict__ inv_freq, paged_kv kv, step_meta st,
                             int hpc) {
    __shared__ float sn[rope_vec_max_half], cs[rope_vec_max_half];
    const int row = blockIdx.x;
    const int pos = st.positions[row];
    for (int i = threadIdx.x; i < half; i += blockDim.x) rope_sincos(pos, inv_freq[i], &sn[i], &cs[i]);
    const int64_t slot = kv_slot(kv, st, row);
    pdl_wait();
    pdl_trigger();
    __syncthreads();
    const int D = kv.head_dim;
    const int h0 = int(blockIdx.y) * hpc, h1 = min(n_heads + kv.n_kv_heads, h0 + hpc);
    const int pu = half / 8, tu = (D - 2 * half) / 8, vu = D / 8;  // rope units, k and v chunks per head
    const int q_end = min(h1, n_heads), kv_first = max(h0, n_heads) - n_heads, kv_end = h1 - n_heads;
    const int n_q = max(0, q_end - h0) * pu;  // q past rope_dim stays as it is
    const int per_kv = pu + tu + vu;
    const int n_kv = slot < 0 ? 0 : max(0, kv_end - kv_first) * per_kv;
    for (int it = threadIdx.x; it < n_q + n_kv; it += blockDim.x) {
        if (it < n_q) {
            uint16_t* x = q + (int64_t(row) * n_heads + h0 + it / pu) * D;
            rope_unit<Neox>(x, x, it % pu, half, sn, cs);
            continue;
        }
        const int j = it - n_q, h = kv_first + j / per_kv, u = j % per_kv;
        const int64_t src = (int64_t(row) * kv.n_kv_heads + h) * D, dst = slot + int64_t(h) * D;
        if (u < pu) {
            rope_unit<Neox>(k + src, kv.k + dst, u, half, sn, cs);
        } else if (u < pu + tu) {
            const int e = 2 * half + (u - pu) * 8;
            *reinterpret_cast<uint4*>(kv.k + dst + e) = *reinterpret_cast<const uint4*>(k + src + e);
        } else {
            const int e = (u - pu - tu) * 8;
            *reinterpret_cast<uint4*>(kv.v + dst + e) = *reinterpret_cast<const uint4*>(v + src + e);
        }
    }
}

} // namespace

void rope_kv_store_bf16(uint16_t* q, const uint16_t* k, const uint16_t* v, int n_heads, int rope_dim, bool neox,
                        const float* inv_freq, const paged_kv& kv, const step_meta& step, rl_stream stream) {
    RL_CHECK(q && k && v && kv.k && kv.v && inv_freq, "rope_kv_store_bf16: null pointer");
    RL_CHECK(step.positions && step.row_seq && step.seq_table && step.block_tables, "rope_kv_store_bf16: step not set");
    RL_CHECK(kv.num_blocks > 0 && kv.block_size > 0 && kv.n_kv_heads > 0 && kv.head_dim > 0 && n_heads > 0,
             "rope_kv_store_bf16: bad KV layout");
    RL_CHECK(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= kv.head_dim,
             "rope_kv_store_bf16: rope_dim " + std::to_string(rope_dim) + " must be even and <= head_dim " +
                 std::to_string(kv.head_dim));
    if (step.n_tokens == 0) return;
    RL_CHECK(n_heads + kv.n_kv_heads <= 65535, "rope_kv_store_bf16: too many heads for one launch");
    const int half = rope_dim / 2, n_total = n_heads + kv.n_kv_heads;
    const bool vec = half % 8 == 0 && half <= rope_vec_max_half && kv.head_dim % 8 == 0 && aligned16(q) &&
                     aligned16(k) && aligned16(v) && aligned16(kv.k) && aligned16(kv.v);
    if (vec) {
        // Head groups so that small batches still spread over ~128 CTAs; a prefill's rows need none.
        const int groups = int(std::clamp<int64_t>((128 + step.n_tokens - 1) / step.n_tokens, 1, n_total));
        const int hpc = (n_total + groups - 1) / groups;
        const dim3 grid(unsigned(step.n_tokens), unsigned((n_total + hpc - 1) / hpc));
        if (neox) launch(rope_kv_store_vec_kernel<true>, grid, 128, 0, stream, q, k, v, n_heads, half, inv_freq, kv, step, hpc);
        else launch(rope_kv_store_vec_kernel<false>, grid, 128, 0, stream, q, k, v, n_heads, half, inv_freq, kv, step, hpc);
        return;
    }
    launch(rope_kv_store_kernel, dim3(unsigned(step.n_tokens), unsigned(n_total)), 64, 0, stream, q, k, v, n_heads, half,
           neox, inv_freq, kv, step);
}

void kv_store_bf16(const uint16_t* k, const uint16_t* v, const paged_kv& kv, const step_meta& step,
                   rl_stream stream) {
    RL_CHECK(k && v && kv.k && kv.v, "kv_store_bf16: null pointer");
    RL_CHECK(step.positions && step.row_seq && step.seq_table && step.block_tables, "kv_store_bf16: step not set");
    RL_CHECK(kv.num_blocks > 0 && kv.block_size > 0 && kv.n_kv_heads > 0 && kv.head_dim > 0,
             "kv_store_bf16: bad KV layout");
    if (step.n_tokens == 0) return;
    const int64_t w = int64_t(kv.n_kv_heads) * kv.head_dim;
    const bool vec = w % 8 == 0 && aligned16(k) && aligned16(v) && aligned16(kv.k) && aligned16(kv.v);
    if (vec) launch(kv_store_kernel<true>, unsigned(step.n_tokens), 128, 0, stream, k, v, kv, step);
    else launch(kv_store_kernel<false>, unsigned(step.n_tokens), 128, 0, stream, k, v, kv, step);
}

} // namespace rl::kernels
