// cuda_moe.cpp: cuda_backend's routed-expert FFN (qwen3moe, Mixtral). The router's logits come
// back to the host, which routes them exactly as the CPU backend does (backend/moe_route.h); the
// rows are gathered on the device grouped by expert, and each expert that any row chose runs its
// gate/up/SiLU and down products once over all its rows, through the same GEMV / qmma / cuBLASLt
// choice as a dense layer (block-format experts stay in their blocks); moe_combine then sums each
// row's experts with their weights. The host reads the routing mid-step, so a step with experts
// cannot be recorded as a CUDA graph (llama_model runs those eagerly).
// Checked end to end against the CPU backend by tests/test_gpu_families.cpp.
#include "backend/cuda/cuda_backend_impl.h"

#include "backend/moe_route.h"
#include "backend/op_checks.h"
#include "moe.h"

#include <algorithm>
#include <cstring>

namespace rl::cuda_detail {
namespace {

size_t align_up(size_t b) { return (b + 255) & ~size_t(255); }

} // namespace

void cuda_backend::moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
                           const tensor& down_exps, const moe_params& p, tensor& out) {
    check_bf16(x, "moe_ffn x");
    check_bf16(out, "moe_ffn out");
    RL_CHECK(!recording_, "moe_ffn: the routing is read on the host, which a step graph cannot record");
    op_checks::moe_ffn(x, gate_inp, gate_exps, up_exps, down_exps, p, out);
    const int64_t n = x.rows, d = x.cols, E = p.n_experts, ff = p.d_ff, k = p.n_used, nk = n * k;
    if (n == 0) return;

    // Device scratch: router logits f32 [n, E], slot ids and weights [nk], then the gathered rows
    // and the experts' activations in bf16. Host (pinned): the logits, the gather order, slots, weights.
    const size_t b_logits = align_up(size_t(n * E) * 4), b_idx = align_up(size_t(nk) * 4),
                 b_rows = align_up(size_t(nk * d) * 2), b_ff = align_up(size_t(nk * ff) * 2);
    const size_t dev_need = b_logits + 3 * b_idx + 2 * b_rows + 3 * b_ff;
    const size_t host_need = b_logits + 3 * b_idx;
    use_device();
    if (dev_need > moe_dev_bytes_ || host_need > moe_host_bytes_) {
        RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
        RL_CUDA_CHECK(cudaFree(moe_dev_));
        RL_CUDA_CHECK(cudaFreeHost(moe_host_));
        moe_dev_ = nullptr, moe_host_ = nullptr, moe_dev_bytes_ = 0, moe_host_bytes_ = 0;
        const size_t dcap = dev_need * 3 / 2, hcap = host_need * 3 / 2;
        RL_CUDA_CHECK(cudaMallocHost(&moe_host_, hcap));
        moe_host_bytes_ = hcap;
        moe_dev_ = static_cast<uint8_t*>(device_alloc(dcap, "mixture-of-experts scratch"));
        moe_dev_bytes_ = dcap;
    }
    uint8_t* dp = moe_dev_;
    auto take = [&dp](size_t b) { uint8_t* q = dp; dp += b; return q; };
    float* logits_d = reinterpret_cast<float*>(take(b_logits));
    int32_t* order_d = reinterpret_cast<int32_t*>(take(b_idx));
    int32_t* slot_d = reinterpret_cast<int32_t*>(take(b_idx));
    float* w_d = reinterpret_cast<float*>(take(b_idx));
    uint16_t* xs_d = reinterpret_cast<uint16_t*>(take(b_rows));
    uint16_t* ys_d = reinterpret_cast<uint16_t*>(take(b_rows));
    uint16_t* g_d = reinterpret_cast<uint16_t*>(take(b_ff));
    uint16_t* u_d = reinterpret_cast<uint16_t*>(take(b_ff));
    uint16_t* a_d = reinterpret_cast<uint16_t*>(take(b_ff));
    float* logits_h = reinterpret_cast<float*>(moe_host_);
    int32_t* order_h = reinterpret_cast<int32_t*>(moe_host_ + b_logits);
    int32_t* slot_h = reinterpret_cast<int32_t*>(moe_host_ + b_logits + b_idx);
    float* w_h = reinterpret_cast<float*>(moe_host_ + b_logits + 2 * b_idx);

    // 1. route: logits to the host (the wait also retires the last layer's uploads from moe_host_)
    tensor logits{logits_d, dtype::f32, n, E};
    matmul(x, gate_inp, logits);
    RL_CUDA_CHECK(cudaMemcpyAsync(logits_h, logits_d, size_t(n * E) * 4, cudaMemcpyDeviceToHost, stream_));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    moe_route(logits_h, n, int(E), int(k), p.norm_weights, moe_routes_);
    std::memcpy(order_h, moe_routes_.rows.data(), size_t(nk) * 4);
    std::memcpy(slot_h, moe_routes_.slot_of.data(), size_t(nk) * 4);
    std::memcpy(w_h, moe_routes_.weights.data(), size_t(nk) * 4);
    RL_CUDA_CHECK(cudaMemcpyAsync(order_d, order_h, 3 * b_idx, cudaMemcpyHostToDevice, stream_));

    // 2. the rows grouped by expert, 3. each chosen expert over its rows, 4. the weighted sum
    kernels::gather_rows(x.data, n, d, 2, order_d, int(nk), xs_d, stream_);
    for (int64_t e = 0; e < E; ++e) {
        const int64_t m = moe_routes_.count(int(e)), at = moe_routes_.offsets[size_t(e)];
        if (m == 0) continue;
        ++experts_run_;
        tensor xs{xs_d + at * d, dtype::bf16, m, d}, ys{ys_d + at * d, dtype::bf16, m, d};
        tensor g{g_d + at * ff, dtype::bf16, m, ff}, u{u_d + at * ff, dtype::bf16, m, ff},
            act{a_d + at * ff, dtype::bf16, m, ff};
        gate_up_silu(xs, weight_rows(gate_exps, e * ff, ff), weight_rows(up_exps, e * ff, ff), g, u, act);
        matmul(act, weight_rows(down_exps, e * d, d), ys);
    }
    kernels::moe_combine_bf16(ys_d, slot_d, w_d, n, int(k), d, bf(out), stream_);
}

} // namespace rl::cuda_detail
