// cpu_backend_ops.cpp: cpu_backend's ops for the families past llama/qwen2: the GeGLU and the
// scaled embedding of gemma3, and the routed experts of a mixture-of-experts layer (qwen3moe,
// Mixtral). The MoE op routes on the host (this backend's memory is the host's), groups the rows
// by expert and runs each expert's products through the same matmul paths as a dense layer, so
// block-format experts take the int8 kernels too. Checked end to end by test_families.
#include "backend/cpu_backend.h"

#include "backend/moe_route.h"
#include "backend/op_checks.h"
#include "backend/thread_pool.h"
#include "common/engine_error.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace rl {
namespace {

float* f32(const tensor& t) { return static_cast<float*>(t.data); }

void check_f32(const tensor& t, const char* what) {
    RL_CHECK(t.data != nullptr, std::string("cpu_backend: ") + what + " has no storage");
    RL_CHECK(t.type == dtype::f32, std::string("cpu_backend: ") + what + " must be f32");
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
    op_checks::moe_ffn(x, gate_inp, gate_exps, up_exps, down_exps, p, out);

    // Route (moe_route.h), then each expert over the rows routed to it: gathered rows -> gate/up
    // -> SiLU-GLU -> down, then weighted into out.
    std::vector<float> logit_buf;
    tensor logits = host_tensor(logit_buf, n, E);
    matmul(x, gate_inp, logits);
    moe_route(f32(logits), n, int(E), p.n_used, p.norm_weights, routes_);
    std::fill(f32(out), f32(out) + n * d, 0.f);
    std::vector<float> xb, gb, ub, ab, yb;
    for (int64_t e = 0; e < E; ++e) {
        const int64_t m = routes_.count(int(e)), at = routes_.offsets[size_t(e)];
        if (m == 0) continue;
        ++experts_run_;
        tensor xs = host_tensor(xb, m, d), g = host_tensor(gb, m, ff), u = host_tensor(ub, m, ff),
               act = host_tensor(ab, m, ff), y = host_tensor(yb, m, d);
        for (int64_t i = 0; i < m; ++i)
            std::copy_n(f32(x) + int64_t(routes_.rows[size_t(at + i)]) * d, d, f32(xs) + i * d);
        gate_up_silu(xs, weight_rows(gate_exps, e * ff, ff), weight_rows(up_exps, e * ff, ff), g, u, act);
        matmul(act, weight_rows(down_exps, e * d, d), y);
        for (int64_t i = 0; i < m; ++i) {
            float* o = f32(out) + int64_t(routes_.rows[size_t(at + i)]) * d;
            const float w = routes_.weights[size_t(at + i)];
            const float* yr = f32(y) + i * d;
            for (int64_t c = 0; c < d; ++c) o[c] += w * yr[c];
        }
    }
}

} // namespace rl
