// gemv_int8_k.cu: the block-format GEMV's int8 path (gemv_int8_launch.cuh) for the K-quants.
#include "gemv_int8_launch.cuh"

namespace rl::kernels {
template void gemv_blocks_i8<qf::q4_k>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q5_k>(const gemv_params&, int, bool, bool, cudaStream_t);
template void gemv_blocks_i8<qf::q6_k>(const gemv_params&, int, bool, bool, cudaStream_t);
} // namespace rl::kernels
