// gemv_quant.cuh: the GEMV's launch choices for weights in a GGUF block format; built once per
// format by gemv_quant_legacy.cu (q8_0, q4_0, q4_1, q5_0, q5_1) and gemv_quant_k.cu (q4_k, q5_k,
// q6_k), so the formats compile in parallel. Fewer variants than bf16's tuned table
// (tuning.h): two output rows per warp; at one x row, two units in flight per lane and the k
// split over four warps when the matrix has too few row pairs to fill the GPU (a SmolLM2
// projection), else none; 2-4 and 5-8 x rows one unit in flight. Up to
// tuning().gemv_int8_max_rows x rows (and while their q8 copy fits in shared memory) the int8
// path (gemv_int8_launch.cuh) takes the product instead.
#pragma once
#include "gemv_kernel.cuh"

namespace rl::kernels {

template <class Q>
void gemv_blocks(const gemv_params& p, int out, bool glu, cudaStream_t s) {
    const int m = glu ? p.m_end[0] : p.m_end[gemv_max_segments - 1];
    const bool few_warps = (glu ? m : m / 2) < 1024;
    if (p.n <= tuning().gemv_int8_max_rows && p.n * i8_row_bytes(p.k) <= gemv_int8_smem_max()) {
        gemv_blocks_i8<Q>(p, out, glu, few_warps, s);
        return;
    }
    if (p.n == 1) {
        if (glu) few_warps ? launch_n<Q, 1, 2, 2, true, 4, 4>(p, out, s) : launch_n<Q, 1, 2, 2, true>(p, out, s);
        else few_warps ? launch_n<Q, 1, 2, 2, false, 4, 4>(p, out, s) : launch_n<Q, 1, 2, 2, false>(p, out, s);
    } else if (p.n <= 4) {
        glu ? launch_n<Q, 4, 2, 1, true>(p, out, s) : launch_n<Q, 4, 2, 1, false>(p, out, s);
    } else {
        glu ? launch_n<Q, 8, 2, 1, true>(p, out, s) : launch_n<Q, 8, 2, 1, false>(p, out, s);
    }
}

} // namespace rl::kernels
