// step_rows.h: steps built by hand in the model tests (test_golden, test_families and the GPU
// tests that compare backends): a sequence's ids, block table and positions in the pool, the rows
// it adds to a step, and how far one logits row is from another.
#pragma once
#include "backend/backend.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace rl_test_steps {

// One sequence being decoded inside a (possibly shared) batch.
struct seq_state {
    std::vector<int32_t> ids;    // prompt + generated (or fed back)
    std::vector<int32_t> table;  // block table
    int cached = 0;              // positions already in the KV pool
};

// Appends rows [s.cached, s.cached + n) of s to the step; returns the row of its last token.
inline int add_to_step(rl::step_input& in, const seq_state& s, int n) {
    rl::seq_slice q;
    q.token_begin = in.n_tokens();
    q.n_tokens = n;
    q.start_pos = s.cached;
    q.block_table = s.table;
    for (int i = 0; i < n; ++i) {
        in.tokens.push_back(s.ids[size_t(s.cached + i)]);
        in.positions.push_back(s.cached + i);
    }
    in.seqs.push_back(q);
    return q.token_begin + n - 1;
}

// ||got - ref|| / ||ref|| over one logits row of n values; +inf when any of got is not finite.
inline double logits_rel_l2(const float* got, const float* ref, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        num += double(got[i] - ref[i]) * double(got[i] - ref[i]);
        den += double(ref[i]) * double(ref[i]);
    }
    return std::sqrt(num / den);
}

} // namespace rl_test_steps
