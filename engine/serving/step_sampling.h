// step_sampling: how one step's tokens are chosen. Plain greedy rows take the argmax on the
// backend; otherwise, when the backend samples on the device, rows that need no host logits (no
// penalty, bias, constraint or log-probabilities: sequence::needs_host_logits) are drawn there
// (row_sampling.h); a step with any other row downloads the logits and samples on the host. One path per step (the forward call differs). The device paths are always
// preferred: only token ids cross to the host instead of every row's logits, which multiplied
// serving throughput (dev/notes/kernel-switches.md); the host path is the fallback for what the
// device cannot do. Pure: tested by test_row_sampling, and through the engine by test_engine
// (CPU) and test_gpu_sampling (GPU).
#pragma once
#include "backend/row_sampling.h"
#include "serving/scheduler.h"

#include <vector>

namespace rl {

enum class sample_path { device_greedy, device_draw, host };

struct step_sampling {
    sample_path path = sample_path::host;
    std::vector<row_sampling> draws;  // device_draw: one per row that wants a token, in order
};

/// Decides the path for `st`; for device_draw, takes one uniform from each drawing sequence.
step_sampling plan_sampling(const scheduled_step& st, bool backend_samples_on_device);

} // namespace rl
