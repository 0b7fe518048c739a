// synthetic: model shapes without a file (random weights at real shapes) for benchmarks and
// scale demos: synthetic:llama3-8b, synthetic:smollm2-135m, synthetic:qwen2.5-7b,
// synthetic:llama3-70b-4layers (the 70B layer shape, 4 layers).
#pragma once
#include "model/model_config.h"

#include <string>
#include <vector>

namespace rl {

constexpr const char* kSyntheticPrefix = "synthetic:";
inline bool is_synthetic(const std::string& path) { return path.rfind(kSyntheticPrefix, 0) == 0; }

/// Throws engine_error listing the known names for an unknown one.
model_config synthetic_config(const std::string& name);  // name without the prefix
std::vector<std::string> synthetic_names();

} // namespace rl
