// launch.cuh: kernel launches with programmatic dependent launch (PDL, Hopper and later). A decode
// step is hundreds of small dependent kernels; without PDL each one waits for its predecessor to
// finish before its own blocks are even scheduled, and at a small model those gaps are most of
// the step.
// With PDL a kernel asks for its successor to be launched at once (pdl_trigger), and the
// successor's blocks sit in pdl_wait until the predecessor has completed and its writes are
// visible. So every kernel launched through rl::kernels::launch must call pdl_wait() before it
// touches global memory that an earlier kernel writes; after that nothing changes for correctness
// (the wait is a full completion barrier, and transitive along the chain). The one exception,
// relied on to take round trips off the chain: what the host copies onto the stream (the step
// metadata of set_step, rope frequencies, weights) may be read before the wait, because a copy
// waits for every earlier kernel and every kernel after it starts after it completed. It would
// break if a kernel ever wrote those buffers, or a copy went to another stream. Off below sm_90
// and when kernel_tuning::pdl is 0 (tuning.h; a debugging and profiling switch).
#pragma once
#include "common.cuh"

#include <utility>

namespace rl::kernels {

/// True when launches on the current device use PDL (compute capability >= 9, tuning().pdl).
bool pdl_enabled();

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Launches kernel<<<grid, block, smem, stream>>>(args...) with the PDL attribute when enabled,
// and checks the launch. launch_cluster also groups the CTAs into thread-block clusters of
// `cluster` (Hopper; CTAs of a cluster share their shared memory, see attention_decode.cu).
template <typename... K, typename... A>
void launch_cluster(void (*kernel)(K...), dim3 grid, dim3 block, dim3 cluster, size_t smem, cudaStream_t stream,
                    A&&... args) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[2]{};
    int n = 0;
    if (pdl_enabled()) {
        attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attr[n++].val.programmaticStreamSerializationAllowed = 1;
    }
    if (cluster.x * cluster.y * cluster.z > 1) {
        attr[n].id = cudaLaunchAttributeClusterDimension;
        attr[n].val.clusterDim.x = cluster.x;
        attr[n].val.clusterDim.y = cluster.y;
        attr[n++].val.clusterDim.z = cluster.z;
    }
    cfg.attrs = attr;
    cfg.numAttrs = unsigned(n);
    RL_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<A>(args)...));
}

template <typename... K, typename... A>
void launch(void (*kernel)(K...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A&&... args) {
    launch_cluster(kernel, grid, block, dim3{1, 1, 1}, smem, stream, std::forward<A>(args)...);
}

} // namespace rl::kernels
