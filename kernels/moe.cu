// moe.cu: the weighted sum of a routed row's expert outputs (moe.h). One CTA per row; each thread
// owns columns c, c + blockDim, ... and adds the row's k expert rows in routing order, so the
// result does not depend on how many rows each expert had.
// Exercised end to end by tests/test_gpu_families.cpp (qwen3moe, mixtral against the CPU).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "launch.cuh"
#include "moe.h"

#include <string>

namespace rl::kernels {
namespace {

__global__ void moe_combine_kernel(const uint16_t* __restrict__ ys, const int32_t* __restrict__ slot,
                                   const float* __restrict__ w, int64_t n_slots, int k, int64_t d,
                                   uint16_t* __restrict__ out) {
    pdl_wait();
    pdl_trigger();
    const int64_t r = blockIdx.x;
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j < k; ++j) {
            const int32_t s = slot[r * k + j];
            if (s < 0 || s >= n_slots) {  // validated on the host; poison rather than read outside
                acc = __int_as_float(0x7fc00000);
                break;
            }
            acc += w[s] * bf16_to_f32(ys[int64_t(s) * d + c]);  // entry s: its row of ys, its weight
        }
        out[r * d + c] = f32_to_bf16(acc);
    }
}

} // namespace

void moe_combine_bf16(const uint16_t* ys, const int32_t* slot, const float* w, int64_t n, int k, int64_t d,
                      uint16_t* out, rl_stream stream) {
    RL_CHECK(ys && slot && w && out, "moe_combine_bf16: null pointer");
    RL_CHECK(n >= 0 && n < (int64_t(1) << 31) && k > 0 && d > 0,
             "moe_combine_bf16: " + std::to_string(n) + " rows, " + std::to_string(k) + " experts each, width " +
                 std::to_string(d));
    if (n == 0) return;
    launch(moe_combine_kernel, unsigned(n), 128, 0, stream, ys, slot, w, n * k, k, d, out);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
