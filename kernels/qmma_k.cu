// qmma_k.cu: the fused quantized GEMM (qmma_kernel.cuh) for the 256-element K-quants and bf16.
#include "qmma_kernel.cuh"

namespace rl::kernels {
template void qmma_launch<qf::q4_k>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q5_k>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::q6_k>(const qmma_params&, dim3, cudaStream_t);
template void qmma_launch<qf::bf16>(const qmma_params&, dim3, cudaStream_t);
} // namespace rl::kernels
