// kv_slot.cuh: where a batch row's new K/V goes in the paged pool, shared by the KV store
// (kv_store.cu) and the q/k/v GEMV's rope + store epilogue (gemv.cu).
#pragma once
#include "kernels.h"

namespace rl::kernels {

// The pool offset of batch row `row`'s K/V, or -1 when its position or table is out of range
// (the host validated both; anything still off is skipped rather than written outside the pool).
__device__ __forceinline__ int64_t kv_slot(const paged_kv& kv, const step_meta& st, int row) {
    const int pos = st.positions[row];
    const int seq = st.row_seq[row];
    if (seq < 0 || seq >= st.n_seqs || pos < 0) return -1;
    const int blk = st.block_tables[st.seq_table[seq] + pos / kv.block_size];
    if (blk < 0 || blk >= kv.num_blocks) return -1;
    return (int64_t(blk) * kv.block_size + pos % kv.block_size) * kv.n_kv_heads * kv.head_dim;
}

} // namespace rl::kernels
