// moe_route: the routing of a mixture-of-experts layer, shared by every backend so that they pick
// the same experts for the same router logits: softmax over all experts, the top n_used by
// probability (the lower index on ties), renormalised to sum 1 when asked (llama.cpp clamps the
// sum to the smallest normal fp16 first). The result groups the rows by expert, so each expert's
// products run once over all the rows routed to it. Checked by test_families (both backends).
#pragma once
#include "backend/backend.h"

#include <cstdint>
#include <vector>

namespace rl {

struct moe_routes {
    std::vector<int32_t> rows;     // [n * n_used] batch rows, grouped by expert, ascending within one
    std::vector<float> weights;    // [n * n_used] the routing weight of each entry of rows
    std::vector<int64_t> offsets;  // [n_experts + 1] expert e's entries are [offsets[e], offsets[e+1])
    /// [n * n_used] for row r's j-th choice (by probability), its index into rows / weights.
    std::vector<int32_t> slot_of;
    int64_t count(int e) const { return offsets[size_t(e) + 1] - offsets[size_t(e)]; }
};

/// Routes n rows from their router logits [n, n_experts] (f32, row-major) into `out` (its
/// vectors are reused). Throws engine_error for counts out of range.
void moe_route(const float* logits, int64_t n, int n_experts, int n_used, bool norm_weights, moe_routes& out);

/// Rows [r0, r0 + n) of a weight as a view (whole rows, so block formats stay valid): one
/// expert's slice of the stacked expert weights.
tensor weight_rows(const tensor& w, int64_t r0, int64_t n);

} // namespace rl
