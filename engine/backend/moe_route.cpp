// moe_route.cpp: see moe_route.h.
#include "backend/moe_route.h"

#include "common/engine_error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace rl {

void moe_route(const float* logits, int64_t n, int n_experts, int n_used, bool norm_weights, moe_routes& out) {
    const int E = n_experts, k = n_used;
    RL_CHECK(E > 0 && k > 0 && k <= E && n >= 0, "moe_route: " + std::to_string(k) + " of " + std::to_string(E) +
                                                     " experts for " + std::to_string(n) + " rows");
    std::vector<int> order(static_cast<size_t>(E));
    std::vector<double> prob(static_cast<size_t>(E));
    std::vector<int32_t> chosen(size_t(n * k));  // [n, k] expert ids
    std::vector<float> chosen_w(size_t(n * k));
    out.offsets.assign(size_t(E) + 1, 0);
    for (int64_t r = 0; r < n; ++r) {
        const float* l = logits + r * E;
        const float mx = *std::max_element(l, l + E);
        double sum = 0.0;
        for (int e = 0; e < E; ++e) sum += prob[size_t(e)] = std::exp(double(l[e]) - mx);
        for (auto& v : prob) v /= sum;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
            return prob[size_t(a)] > prob[size_t(b)] || (prob[size_t(a)] == prob[size_t(b)] && a < b);
        });
        double wsum = 0.0;
        for (int i = 0; i < k; ++i) wsum += prob[size_t(order[size_t(i)])];
        const double norm = norm_weights ? 1.0 / std::max(wsum, 6.103515625e-5) : 1.0;
        for (int i = 0; i < k; ++i) {
            const int e = order[size_t(i)];
            chosen[size_t(r * k + i)] = e;
            chosen_w[size_t(r * k + i)] = float(prob[size_t(e)] * norm);
            ++out.offsets[size_t(e) + 1];
        }
    }
    for (int e = 0; e < E; ++e) out.offsets[size_t(e) + 1] += out.offsets[size_t(e)];
    out.rows.resize(size_t(n * k));
    out.weights.resize(size_t(n * k));
    out.slot_of.resize(size_t(n * k));
    std::vector<int64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
    for (int64_t r = 0; r < n; ++r)  // rows ascending, so each expert's entries are too
        for (int i = 0; i < k; ++i) {
            const int64_t at = fill[size_t(chosen[size_t(r * k + i)])]++;
            out.rows[size_t(at)] = int32_t(r);
            out.weights[size_t(at)] = chosen_w[size_t(r * k + i)];
            out.slot_of[size_t(r * k + i)] = int32_t(at);
        }
}

tensor weight_rows(const tensor& w, int64_t r0, int64_t n) {
    RL_CHECK(r0 >= 0 && n >= 0 && r0 + n <= w.rows, "weight_rows: rows " + std::to_string(r0) + " + " +
                                                          std::to_string(n) + " of " + shape_of(w));
    tensor v = w;
    v.data = static_cast<uint8_t*>(w.data) + size_t(r0) * dtype_row_bytes(w.type, w.cols);
    v.rows = n;
    return v;
}

} // namespace rl
