// gemv_quant_legacy.cu: the block-format GEMV (gemv_quant.cuh) for the 32-element formats.
#include "gemv_quant.cuh"

namespace rl::kernels {
template void gemv_blocks<qf::q8_0>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q4_0>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q4_1>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q5_0>(const gemv_params&, int, bool, cudaStream_t);
template void gemv_blocks<qf::q5_1>(const gemv_params&, int, bool, cudaStream_t);
} // namespace rl::kernels
