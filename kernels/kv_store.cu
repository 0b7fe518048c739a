// kv_store.cu: writes a step's K and V rows into the paged pool. Row r of the batch (position p
// of sequence s) lands in physical block block_tables[seq_table[s] + p / block_size] at offset
// p % block_size; the pool is [num_blocks, block_size, n_kv_heads, head_dim] per layer, so one
// token's K (all kv heads) is one contiguous run of n_kv_heads*head_dim values.
// One CTA per row. rope_kv_store_bf16 fuses decode's rope of q and k with the store (one launch
// instead of three): the rotated k goes straight to the pool. Exercised by
// tests/test_gpu_kernels.cpp (through the attention tests) and tests/test_gpu_fused.cpp.
#include "bf16_vec.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "kv_slot.cuh"
#include "rope_math.cuh"

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

// One CTA per (row, head): blockIdx.y < n_heads rotates query head y in place; the others rotate
// kv head y - n_heads of k into the pool and copy its v. (One CTA per row took 20 us per call at
// batch 1 on Llama-3-8B shapes, ncu: 2,048 pairs on one SM.)
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
    launch(rope_kv_store_kernel, dim3(unsigned(step.n_tokens), unsigned(n_heads + kv.n_kv_heads)), 64, 0, stream, q, k, v,
           n_heads, rope_dim / 2, neox, inv_freq, kv, step);
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
