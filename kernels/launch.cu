// launch.cu: whether launches use programmatic dependent launch (see launch.cuh).
#include "kernels.h"
#include "launch.cuh"
#include "tuning.h"

namespace rl::kernels {

bool pdl_enabled() {
    if (!tuning().pdl) return false;
    constexpr int max_devices = 64;
    static int major[max_devices] = {};  // 0: not asked yet (benign race: every writer stores the same value)
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= max_devices) return false;
    if (major[dev] == 0 && cudaDeviceGetAttribute(&major[dev], cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
        return false;
    return major[dev] >= 9;
}

} // namespace rl::kernels
