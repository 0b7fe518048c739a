// cuda_backend: the GPU backend (bf16 weights and KV, cuBLASLt GEMMs, kernels from kernels/).
// Declared here without CUDA headers; defined in engine/backend/cuda/cuda_backend.cpp, built only when
// RIDGELINE_CUDA is on.
#pragma once
#include "backend/backend.h"

#include <memory>

namespace rl {

/// Creates the backend on `device`. Throws engine_error with the driver's reason when no usable
/// GPU is present.
std::unique_ptr<backend> make_cuda_backend(int device);

} // namespace rl
