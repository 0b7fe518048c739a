// gemv_quant_k.cu: the block-format GEMV (gemv_quant.cuh) for the 256-element K-quants.
#include "gemv_quant.cuh"

namespace rl::kernels {
template void gemv_blocks<qf::q4_k>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q5_k>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q6_k>(const gemv_params&, int, bool, cudaStream_t);
} // namespace rl::kernels
