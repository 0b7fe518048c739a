// common.cuh: the CUDA check macros shared by every kernel family. Every CUDA and cuBLAS call
// goes through them so a failure becomes an engine_error carrying the call, file and line.
#pragma once
#include "common/engine_error.h"

#include <cuda_runtime.h>
#include <string>

#define RL_CUDA_CHECK(call)                                                                     \
    do {                                                                                        \
        cudaError_t rl_err_ = (call);                                                           \
        if (rl_err_ != cudaSuccess)                                                             \
            throw ::rl::engine_error(std::string("CUDA error: ") + cudaGetErrorString(rl_err_) + \
                                         " in " #call, __FILE__, __LINE__);                     \
    } while (0)

// After a launch: configuration errors surface here, asynchronous faults at the next sync.
#define RL_CUDA_CHECK_LAUNCH() RL_CUDA_CHECK(cudaGetLastError())
