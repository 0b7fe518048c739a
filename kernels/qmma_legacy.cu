// qmma_legacy.cu: the fused quantized GEMM (qmma_kernel.cuh) for the 32-element formats.
#include "qmma_kernel.cuh"

namespace rl::kernels {
template void qmma_launch<qf::q8_0>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q4_0>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q4_1>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q5_0>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q5_1>(const qmma_params&, dim3, cudaStream_t);
} // namespace rl::kernels
