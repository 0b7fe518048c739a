// backend_factory: creates a backend by name ("cpu", "cuda"). Lives in ridgeline_engine (not
// ridgeline_core) because it is the one place that knows whether the CUDA backend was built.
#pragma once
#include "backend/backend.h"

#include <memory>
#include <string>
#include <vector>

namespace rl {

/// Throws engine_error naming the backends this build has when `name` is unknown or unusable
/// (e.g. "cuda" without a usable device: the reason from the driver is in the message).
/// "auto" picks cuda when this build has it and a device is usable, else cpu.
std::unique_ptr<backend> create_backend(const std::string& name, int threads);
std::string resolve_backend(const std::string& name);
std::vector<std::string> available_backends();

} // namespace rl
