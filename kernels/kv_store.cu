// kv_store.cu: writes a step's K and V rows into the paged pool. Row r of the batch (position p
// of sequence s) lands in physical block block_tables[seq_table[s] + p / block_size] at offset
// p % block_size; the pool is [num_blocks, block_size, n_kv_heads, head_dim] per layer, so one
// token's K (all kv heads) is one contiguous run of n_kv_heads*head_dim values.
// One CTA per row. Exercised by tests/test_gpu_kernels.cpp (through the attention tests).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"

namespace rl::kernels {
namespace {

template <bool Vec>
__global__ void kv_store_kernel(const uint16_t* __restrict__ k, const uint16_t* __restrict__ v, paged_kv kv,
                                step_meta st) {
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

} // namespace

void kv_store_bf16(const uint16_t* k, const uint16_t* v, const paged_kv& kv, const step_meta& step,
                   rl_stream stream) {
    RL_CHECK(k && v && kv.k && kv.v, "kv_store_bf16: null pointer");
    RL_CHECK(step.positions && step.row_seq && step.seq_table && step.block_tables, "kv_store_bf16: step not set");
    RL_CHECK(kv.num_blocks > 0 && kv.block_size > 0 && kv.n_kv_heads > 0 && kv.head_dim > 0,
             "kv_store_bf16: bad KV layout");
    if (step.n_tokens == 0) return;
    const int64_t w = int64_t(kv.n_kv_heads) * kv.head_dim;
    const bool vec = w % 8 == 0 && aligned16(k) && aligned16(v) && aligned16(kv.k) && aligned16(kv.v);
    if (vec) kv_store_kernel<true><<<unsigned(step.n_tokens), 128, 0, stream>>>(k, v, kv, step);
    else kv_store_kernel<false><<<unsigned(step.n_tokens), 128, 0, stream>>>(k, v, kv, step);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
