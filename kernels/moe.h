// moe.h: the device side of a mixture-of-experts layer (moe.cu). Routing happens on the host
// (backend/moe_route.h, shared with the CPU backend), the rows are gathered per expert with
// gather_rows, and each expert's products run over all its rows at once; this combines them.
#pragma once
#include "kernels.h"

namespace rl::kernels {

/// out[r, :] = sum_j w[s] * ys[s, :] with s = slot[r*k + j], for r < n, in fp32 in the order of
/// j, rounded once to bf16: ys [n*k, d] bf16 and w f32 [n*k] per routed entry (grouped by
/// expert), slot int32 [n*k] per (row, choice); all in device memory.
void moe_combine_bf16(const uint16_t* ys, const int32_t* slot, const float* w, int64_t n, int k, int64_t d,
                      uint16_t* out, rl_stream stream);

} // namespace rl::kernels
