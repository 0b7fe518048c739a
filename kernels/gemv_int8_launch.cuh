// gemv_int8_launch.cuh: the launch choices of the GEMV's int8 path (gemv_kernel.cuh with I8) for
// the block formats; built once per format by gemv_int8_legacy.cu and gemv_int8_k.cu, so the
// formats compile in parallel. CTAs of eight warps: each CTA quantizes x once, so more rows per
// CTA spread that cost thinner. At one x row two units per lane are in flight and, where the
// matrix has too few row pairs to fill the GPU, the k split goes over four warps. Past two x
// rows each warp takes four weight rows (GLU: the gate and up pair; q5_k and q6_k: two), so
// each x block read from shared memory serves four rows: at eight x rows those reads otherwise
// match the weight stream.
#pragma once
#include "gemv_kernel.cuh"

namespace rl::kernels {

template <class Q>
void gemv_blocks_i8(const gemv_params& p, int out, bool glu, bool few_warps, cudaStream_t s) {
    constexpr int r = sizeof(typename Q::raw) <= 64 ? 4 : 2;  // (q5_k's and q6_k's units spill at 4)
    if (p.n == 1) {
        if (glu) few_warps ? launch_n<Q, 1, 2, 2, true, 4, 8, true>(p, out, s) : launch_n<Q, 1, 2, 2, true, 1, 8, true>(p, out, s);
        else few_warps ? launch_n<Q, 1, 2, 2, false, 4, 8, true>(p, out, s) : launch_n<Q, 1, 2, 2, false, 1, 8, true>(p, out, s);
    } else if (p.n == 2) {
        glu ? launch_n<Q, 2, 2, 1, true, 1, 8, true>(p, out, s) : launch_n<Q, 2, 2, 1, false, 1, 8, true>(p, out, s);
    } else if (p.n <= 4) {
        glu ? launch_n<Q, 4, 2, 1, true, 1, 8, true>(p, out, s) : launch_n<Q, 4, r, 1, false, 1, 8, true>(p, out, s);
    } else {
        glu ? launch_n<Q, 8, 2, 1, true, 1, 8, true>(p, out, s) : launch_n<Q, 8, r, 1, false, 1, 8, true>(p, out, s);
    }
}

} // namespace rl::kernels
