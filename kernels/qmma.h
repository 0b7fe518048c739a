// qmma.h: the fused quantized GEMM (kernels/qmma*.cu), callable from plain C++ (no CUDA headers).
// out[M, N] = x[M, K] * W[N, K]^T with x bf16 row-major, W rows in one GGUF block format (or
// bf16), fp32 accumulation on tensor cores and bf16 or f32 output. The weights are decoded in
// registers into shared-memory tiles, never written back to global memory: the replacement for
// "dequantize into a bf16 scratch, then cuBLASLt" at batches of tens to a few hundred rows, where
// that scratch's round trip through HBM is the cost.
#pragma once
#include "gguf/ggml_types.h"

#include <cstddef>
#include <cstdint>

struct CUstream_st;
using rl_stream = CUstream_st*;  // == cudaStream_t

namespace rl::kernels {

/// True when qmma can compute this product: w_type is bf16 or a format of quant_formats.cuh
/// (q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k), M, N, K are positive and fit an int, K is a whole
/// number of blocks (and a multiple of 8 for bf16), and ceil(M / 64) fits a grid dimension. Says
/// nothing about whether it is faster than the alternatives at this shape: the caller decides.
bool qmma_supported(ggml_type w_type, int64_t M, int64_t N, int64_t K);

/// Workspace bytes for qmma's split-K merge: enough for this shape and for every shape with
/// M' <= M, N' <= N, K' <= K on the current device (the split count depends on its SM count), so
/// a backend sizes one workspace from its largest batch and the largest N and K of its matrices.
/// 0 when no such shape is split. The workspace must be zeroed once (cudaMemset) after
/// allocation: it starts with one arrival counter per output tile, and every launch leaves them
/// at zero again. One workspace serves one stream at a time (launches on it must not overlap).
size_t qmma_workspace_bytes(int64_t M, int64_t N, int64_t K);

/// out[M, N] = x[M, K] * W[N, K]^T on `stream`. x: bf16 bit patterns, row-major, 16-byte aligned.
/// w: N rows of K elements in w_type, rows contiguous (K / block_elems blocks each), 16-byte
/// aligned. out: bf16 (out_f32 false) or f32, row-major [M, N]. Dequantized weights are rounded to
/// bf16 before the multiply (as the bf16 scratch path did). workspace: device memory of at least
/// qmma_workspace_bytes(M, N, K) bytes, zeroed once (may be null when that is 0). Launched with
/// PDL (launch.cuh): the weights may be read before the previous kernel completes, x only after.
/// Throws engine_error (RL_CHECK) when !qmma_supported or an argument is bad.
void qmma(ggml_type w_type, const uint16_t* x, const void* w, void* out, bool out_f32, int64_t M, int64_t N,
          int64_t K, void* workspace, size_t workspace_bytes, rl_stream stream);

} // namespace rl::kernels
