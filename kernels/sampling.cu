// sampling.cu: on-device token selection. argmax_rows: the greedy token of each logits row
// ([rows, cols] f32 or bf16), so a greedy step copies back 4 bytes per row instead of the row.
// One CTA of 512 threads per row; each thread scans a strided slice (16-byte loads when the
// row allows), keeping the largest value and its lowest column; then a warp and a block
// reduction. Ties go to the lowest column (like std::max_element), NaNs never win.
// Exercised by tests/test_gpu_kernels.cpp and, through llama_model::forward_greedy, by
// tests/test_gpu_backend.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <climits>

namespace rl::kernels {
namespace {

constexpr int threads = 512;

__device__ __forceinline__ void take(float v, int c, float& best, int& idx) {
    if (v > best || (v == best && c < idx)) best = v, idx = c;  // NaN compares false: ignored
}

template <bool BF16, bool Vec>
__global__ void __launch_bounds__(threads) argmax_rows_kernel(const void* __restrict__ x, int64_t cols,
                                                              int32_t* __restrict__ ids) {
    pdl_wait();
    pdl_trigger();
    __shared__ float s_best[threads / 32];
    __shared__ int s_idx[threads / 32];
    const int64_t row = blockIdx.x;
    float best = -INFINITY;
    int idx = INT_MAX;
    if constexpr (BF16) {
        const uint16_t* r = static_cast<const uint16_t*>(x) + row * cols;
        if constexpr (Vec) {
            for (int64_t c = int64_t(threadIdx.x) * 8; c < cols; c += int64_t(threads) * 8) {
                float v[8];
                load8_bf16(r + c, v);
#pragma unroll
                for (int e = 0; e < 8; ++e) take(v[e], int(c) + e, best, idx);
            }
        } else {
            for (int64_t c = threadIdx.x; c < cols; c += threads) take(bf16_to_f32(r[c]), int(c), best, idx);
        }
    } else {
        const float* r = static_cast<const float*>(x) + row * cols;
        if constexpr (Vec) {
            for (int64_t c = int64_t(threadIdx.x) * 4; c < cols; c += int64_t(threads) * 4) {
                const float4 v = *reinterpret_cast<const float4*>(r + c);
                take(v.x, int(c), best, idx), take(v.y, int(c) + 1, best, idx);
                take(v.z, int(c) + 2, best, idx), take(v.w, int(c) + 3, best, idx);
            }
        } else {
            for (int64_t c = threadIdx.x; c < cols; c += threads) take(r[c], int(c), best, idx);
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float b = __shfl_xor_sync(0xFFFFFFFFu, best, o);
        const int i = __shfl_xor_sync(0xFFFFFFFFu, idx, o);
        take(b, i, best, idx);
    }
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) s_best[warp] = best, s_idx[warp] = idx;
    __syncthreads();
    if (warp == 0) {
        best = lane < threads / 32 ? s_best[lane] : -INFINITY;
        idx = lane < threads / 32 ? s_idx[lane] : INT_MAX;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float b = __shfl_xor_sync(0xFFFFFFFFu, best, o);
            const int i = __shfl_xor_sync(0xFFFFFFFFu, idx, o);
            take(b, i, best, idx);
        }
        if (lane == 0) ids[row] = idx == INT_MAX ? 0 : idx;
    }
}

} // namespace

void argmax_rows(const void* x, bool x_is_bf16, int64_t rows, int64_t cols, int32_t* ids, rl_stream stream) {
    RL_CHECK(x && ids, "argmax_rows: null pointer");
    RL_CHECK(rows >= 0 && rows <= 0x7FFFFFFF && cols > 0 && cols < INT_MAX, "argmax_rows: bad shape");
    if (rows == 0) return;
    const unsigned grid = unsigned(rows);
    if (x_is_bf16) {
        if (cols % 8 == 0 && aligned16(x)) launch(argmax_rows_kernel<true, true>, grid, threads, 0, stream, x, cols, ids);
        else launch(argmax_rows_kernel<true, false>, grid, threads, 0, stream, x, cols, ids);
    } else {
        if (cols % 4 == 0 && aligned16(x)) launch(argmax_rows_kernel<false, true>, grid, threads, 0, stream, x, cols, ids);
        else launch(argmax_rows_kernel<false, false>, grid, threads, 0, stream, x, cols, ids);
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
