// calibrate: measures the achievable peaks of a backend through its own ops (about a second):
// FLOP/s from a large matmul, bytes/s as the faster of a large elementwise add (2 reads + 1 write
// per element) and a one-row matmul streaming a weight far larger than the caches (decode's pattern).
// These are the "measured roof" next to any spec values; the utilisation plots divide by them.
#pragma once
#include "backend/backend.h"
#include "metrics/metrics_hub.h"

namespace rl {

device_peaks calibrate_peaks(backend& be, double budget_s = 1.0);

/// What a measurement of peaks is valid for: the backend kind, the device's name, its compute
/// units (SMs, or CPU threads) and the compute dtype, as "cuda|NVIDIA H100 80GB HBM3|132|bf16".
/// The window keeps measured peaks under this key, so the roof does not move between launches.
std::string peaks_key(const device_info& d, dtype compute);

} // namespace rl
