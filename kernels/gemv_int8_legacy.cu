// gemv_int8_legacy.cu: the block-format GEMV's int8 path (gemv_int8_launch.cuh) for the
// 32-element formats.
#include "gemv_int8_launch.cuh"

namespace rl::kernels {
template void gemv_blocks_i8<qf::q8_0>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q4_0>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q4_1>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q5_0>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q5_1>(const gemv_params&, int, bool, bool, cudaStream_t);
} // namespace rl::kernels
