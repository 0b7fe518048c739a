// device_specs: datasheet peaks keyed by device name (dense, no sparsity). The plots show these as
// the "spec" roof next to the calibrated one; ridge point = peak FLOP/s / peak bytes/s.
// H100 SXM: 989 bf16 TFLOP/s and 1979 fp8 over 3.35 TB/s give the 295:1 and 591:1 ridges.
#pragma once
#include <string>

namespace rl {

struct device_spec {
    const char* match;        // substring of the device name
    double hbm_bytes_per_s;
    double bf16_flops;
    double fp8_flops;         // 0 when the device has no fp8 tensor cores
};

inline const device_spec* find_device_spec(const std::string& name) {
    static const device_spec specs[] = {
        {"H100 80GB HBM3", 3.35e12, 989e12, 1979e12},   // SXM5
        {"H100 PCIe", 2.0e12, 756e12, 1513e12},
        {"H100 NVL", 3.9e12, 835e12, 1671e12},
        {"H200", 4.8e12, 989e12, 1979e12},
        {"A100-SXM4-80GB", 2.039e12, 312e12, 0},
        {"A100 80GB PCIe", 1.935e12, 312e12, 0},
        {"L40S", 0.864e12, 362e12, 733e12},
        {"RTX 4090", 1.008e12, 165e12, 330e12},
    };
    for (const auto& s : specs)
        if (name.find(s.match) != std::string::npos) return &s;
    return nullptr;
}

} // namespace rl
