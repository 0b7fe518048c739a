// kernels.h: host launchers of the kernels/ families, callable from plain C++ (no CUDA headers).
// Each launcher checks its inputs, launches on the given stream and checks the launch.
#pragma once
#include "gguf/ggml_types.h"
#include <cstdint>
#include <string>

struct CUstream_st;
using rl_stream = CUstream_st*;  // == cudaStream_t

namespace rl::kernels {

/// Dequantizes n elements of a ggml tensor (device memory) to bf16 (device memory).
/// Supported: f32, f16, bf16, q8_0, q4_0, q4_1. n must be a multiple of the block size.
void dequantize_to_bf16(ggml_type type, const void* src, uint16_t* dst, int64_t n, rl_stream stream);

/// True when a CUDA device is usable; `why` says why not otherwise.
bool cuda_available(std::string* why);

} // namespace rl::kernels
