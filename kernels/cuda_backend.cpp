// cuda_backend.cpp: placeholder until the CUDA backend lands; reports that it is not built yet.
#include "backend/cuda_backend.h"

#include "common/engine_error.h"

namespace rl {

std::unique_ptr<backend> make_cuda_backend(int) {
    RL_THROW("the CUDA backend is not implemented yet in this build");
}

} // namespace rl
