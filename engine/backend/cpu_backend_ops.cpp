// cpu_backend_ops.cpp: cpu_backend's ops for the families past llama/qwen2: the GeGLU and the
// scaled embedding of gemma3, and the routed experts of a mixture-of-experts layer (qwen3moe,
// Mixtral). The MoE op routes on the host (this backend's memory is the host's), groups the rows
// by expert and runs each expert's products through the same matmul paths as a dense layer, so
// block-format experts take the int8 kernels too. Checked end to end by test_families.
#include "backend/cpu_backend.h"

#include "backend/thread_pool.h"
#include "common/engine_error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace rl {
namespace {

float* f32(const tensor& t) { return static_cast<float*>(t.data); }

void check_f32(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cpu_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::f32, std::string("cpu_backend: ") + what + " must be f32");
}

// Rows [r0, r0 + n) of a weight, in place: whole rows, so block formats stay valid.
tensor row_slice(const tensor& w, int64_t r0, int64_t n) {
    tensor v = w;
    v.data = static_cast<uint8_t*>(w.data) + size_t(r0) * dtype_row_bytes(w.type, w.cols);
    v.rows = n;
    return v;
}

tensor host_tensor(std::vector<float>& buf, int64_t rows, int64_t cols) {
    buf.resize(size_t(rows * cols));
    return tensor{buf.data(), dtype::f32, rows, cols};
}

} // namespace

void cpu_backend::gelu_mul(const tensor& gate, const tensor& up, tensor& out) {
    check_f32(gate, "gelu_mul gate");
    check_f32(up, "gelu_mul up");
    check_f32(out, "gelu_mul out");
    RL_CHECK(gate.rows == up.rows && gate.cols == up.cols && out.rows == gate.rows && out.cols == gate.cols,
             "gelu_mul: gate " + shape_of(gate) + ", up " + shape_of(up) + ", out " + shape_of(out) + " differ");
    const int64_t n = gate.numel();
    pool_->parallel_for(n, 4096, [&](int64_t b, int64_t e) {
        constexpr float k0 = 0.7978845608028654f, k1 = 0.044715f;  // sqrt(2/pi); the tanh form's cubic term
        for (int64_t i = b; i < e; ++i) {
            const float g = f32(gate)[i];
            f32(out)[i] = 0.5f * g * (1.f + std::tanh(k0 * g * (1.f + k1 * g * g))) * f32(up)[i];
        }
    });
}

void cpu_backend::scale(tensor& x, float s) {
    check_f32(x, "scale x");
    float* p = f32(x);
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

void cpu_backend::moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
                          const tensor& down_exps, const moe_params& p, tensor& out) {
    check_f32(x, "moe_ffn x");
    check_f32(out, "moe_ffn out");
    const int64_t n = x.rows, d = x.cols, E = p.n_experts, ff = p.d_ff;
    RL_CHECK(E > 0 && p.n_used > 0 && p.n_used <= E && ff > 0, "moe_ffn: bad expert counts");
    RL_CHECK(gate_inp.rows == E && gate_inp.cols == d, "moe_ffn: router " + shape_of(gate_inp) + " for x " + shape_of(x));
    RL_CHECK(gate_exps.rows == E * ff && gate_exps.cols == d && up_exps.rows == E * ff && up_exps.cols == d &&
                 down_exps.rows == E * d && down_exps.cols == ff,
             "moe_ffn: expert weights " + shape_of(gate_exps) + ", " + shape_of(up_exps) + ", " + shape_of(down_exps) +
                 " for " + std::to_string(E) + " experts of " + std::to_string(ff));
    RL_CHECK(out.rows == n && out.cols == d, "moe_ffn: out " + shape_of(out) + " for x " + shape_of(x));

    // Route: softmax over all experts, the top n_used by probability, renormalised.
    std::vector<float> logit_buf;
    tensor logits = host_tensor(logit_buf, n, E);
    matmul(x, gate_inp, logits);
    std::vector<std::vector<std::pair<int64_t, float>>> by_expert(static_cast<size_t>(E));  // (row, weight)
    std::vector<int> order(static_cast<size_t>(E));
    std::vector<double> prob(static_cast<size_t>(E));
    for (int64_t r = 0; r < n; ++r) {
        const float* l = f32(logits) + r * E;
        const float mx = *std::max_element(l, l + E);
        double sum = 0.0;
        for (int64_t e = 0; e < E; ++e) sum += prob[size_t(e)] = std::exp(double(l[e]) - mx);
        for (auto& v : prob) v /= sum;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + p.n_used, order.end(),
                          [&](int a, int b) { return prob[size_t(a)] > prob[size_t(b)] || (prob[size_t(a)] == prob[size_t(b)] && a < b); });
        double wsum = 0.0;
        for (int i = 0; i < p.n_used; ++i) wsum += prob[size_t(order[size_t(i)])];
        // llama.cpp clamps the sum to the smallest normal fp16 before dividing
        const double norm = p.norm_weights ? 1.0 / std::max(wsum, 6.103515625e-5) : 1.0;
        for (int i = 0; i < p.n_used; ++i) {
            const int e = order[size_t(i)];
            by_expert[size_t(e)].emplace_back(r, float(prob[size_t(e)] * norm));
        }
    }

    // Each expert over the rows routed to it: gathered rows -> gate/up -> SiLU-GLU -> down, then
    // weighted into out.
    std::fill(f32(out), f32(out) + n * d, 0.f);
    std::vector<float> xb, gb, ub, ab, yb;
    for (int64_t e = 0; e < E; ++e) {
        const auto& rows = by_expert[size_t(e)];
        if (rows.empty()) continue;
        ++experts_run_;
        const int64_t m = int64_t(rows.size());
        tensor xs = host_tensor(xb, m, d), g = host_tensor(gb, m, ff), u = host_tensor(ub, m, ff),
               act = host_tensor(ab, m, ff), y = host_tensor(yb, m, d);
        for (int64_t i = 0; i < m; ++i)
            std::copy_n(f32(x) + rows[size_t(i)].first * d, d, f32(xs) + i * d);
        gate_up_silu(xs, row_slice(gate_exps, e * ff, ff), row_slice(up_exps, e * ff, ff), g, u, act);
        matmul(act, row_slice(down_exps, e * d, d), y);
        for (int64_t i = 0; i < m; ++i) {
            float* o = f32(out) + rows[size_t(i)].first * d;
            const float w = rows[size_t(i)].second;
            const float* yr = f32(y) + i * d;
            for (int64_t c = 0; c < d; ++c) o[c] += w * yr[c];
        }
    }
}

} // namespace rl
