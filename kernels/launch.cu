// launch.cu: whether launches use programmatic dependent launch (see launch.cuh), and the A/B
// switches and tuning overrides read from the environment.
#include "kernels.h"
#include "launch.cuh"

#include <cstdlib>
#include <string>

namespace rl::kernels {

bool env_switch_on(const char* name) {
    const char* v = std::getenv(name);
    return !(v && std::string(v) == "0");
}

int env_int(const char* name, int fallback, int max) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    const long r = std::strtol(v, &end, 10);
    return *end == 0 && r >= 0 && r <= max ? int(r) : fallback;
}

bool pdl_enabled() {
    static const bool env_on = env_switch_on("RIDGELINE_PDL");
    if (!env_on) return false;
    constexpr int max_devices = 64;
    static int major[max_devices] = {};  // 0: not asked yet (benign race: every writer stores the same value)
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= max_devices) return false;
    if (major[dev] == 0 && cudaDeviceGetAttribute(&major[dev], cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
        return false;
    return major[dev] >= 9;
}

} // namespace rl::kernels
