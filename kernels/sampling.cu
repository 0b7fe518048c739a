// sampling.cu: on-device token selection. argmax_rows: the greedy token of each logits row
// ([rows, cols] f32 or bf16), so a greedy step copies back 4 bytes per row instead of the row.
// One CTA of 512 threads per row; each thread scans a strided slice (16-byte loads when the
// row allows), keeping the largest value and its lowest column; then a warp and a block
// reduction. Ties go to the lowest column (like std::max_element), NaNs never win.
// Exercised by tests/test_gpu_kernels.cpp and, through llama_model::forward_greedy, by
// tests/test_gpu_backend.cpp.
// sample_rows: one draw per f32 logits row under temperature / top-k / top-p / min-p, the rule
// of engine/backend/row_sampling.h: the kept set is {key(x) >= t}, with t found by 32-step
// bisections on the keys (counts for top-k, masses for top-p: one block reduction per step), and
// the draw is an inverse CDF in token order over contiguous per-thread chunks (a block scan of
// the chunk sums finds the chunk, its thread finds the token). Exercised by test_gpu_sampling.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <climits>
#include <type_traits>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

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

namespace {

constexpr int sample_threads = 1024;

__device__ __forceinline__ uint32_t skey(float f) {
    if (f != f) return 0;
    const uint32_t b = __float_as_uint(f);
    const uint32_t k = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return k == 0x007FFFFFu ? 0 : k;
}

struct max_op {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
    __device__ int operator()(int a, int b) const { return a > b ? a : b; }
};
struct min_op { __device__ int operator()(int a, int b) const { return a < b ? a : b; } };
struct sum_op {};  // BlockReduce::Sum

using block_reduce_f = cub::BlockReduce<float, sample_threads>;
using block_reduce_i = cub::BlockReduce<int, sample_threads>;
using block_scan_f = cub::BlockScan<float, sample_threads>;

struct sample_smem {
    union {
        typename block_reduce_f::TempStorage rf;
        typename block_reduce_i::TempStorage ri;
        typename block_scan_f::TempStorage scan;
    } t;
    float f;
    int i;
};

// v reduced over the block with op (max_op, min_op or sum_op), handed to every thread; the
// trailing barrier lets the next call reuse sm at once.
template <typename T, typename Op>
__device__ T block_all(T v, Op op, sample_smem& sm) {
    constexpr bool f = std::is_same_v<T, float>;
    auto reduce = [&](auto&& br) {
        if constexpr (std::is_same_v<Op, sum_op>) return br.Sum(v);
        else return br.Reduce(v, op);
    };
    T r;
    T* slot;
    if constexpr (f) r = reduce(block_reduce_f(sm.t.rf)), slot = &sm.f;
    else r = reduce(block_reduce_i(sm.t.ri)), slot = &sm.i;
    if (threadIdx.x == 0) *slot = r;
    __syncthreads();
    const T out = *slot;
    __syncthreads();
    return out;
}

__global__ void __launch_bounds__(sample_threads) sample_rows_kernel(const float* __restrict__ x, int vocab,
                                                                     const device_sample_params* __restrict__ params,
                                                                     int32_t* __restrict__ ids) {
    pdl_wait();
    pdl_trigger();
    __shared__ sample_smem sm;
    const float* row = x + int64_t(blockIdx.x) * vocab;
    const device_sample_params p = params[blockIdx.x];
    const int tid = threadIdx.x;

    float mx = -INFINITY;
    for (int i = tid; i < vocab; i += sample_threads) mx = fmaxf(mx, row[i]);  // fmaxf drops NaN
    mx = block_all(mx, max_op(), sm);
    // Greedy (and a row with nothing finite): the lowest id holding the maximum.
    int first = INT_MAX;
    for (int i = tid; i < vocab; i += sample_threads)
        if (row[i] == mx) { first = i; break; }
    first = block_all(first, min_op(), sm);
    if (p.temperature <= 0.f || !(mx > -INFINITY)) {
        if (tid == 0) ids[blockIdx.x] = first == INT_MAX ? 0 : first;
        return;
    }

    // Kept-set threshold on the keys (row_sampling.cpp does the same searches).
    uint32_t t = 1;
    auto largest_true = [&](uint32_t lo, auto pred) {
        uint64_t l = lo, h = uint64_t(1) << 32;
        while (h - l > 1) {
            const uint64_t m = l + (h - l) / 2;
            if (pred(uint32_t(m))) l = m;
            else h = m;
        }
        return uint32_t(l);
    };
    if (p.top_k > 0 && p.top_k < vocab)
        t = largest_true(t, [&](uint32_t c) {
            int n = 0;
            for (int i = tid; i < vocab; i += sample_threads) n += skey(row[i]) >= c;
            return block_all(n, sum_op(), sm) >= p.top_k;
        });
    if (p.top_p < 1.f) {
        auto mass = [&](uint32_t c) {
            float s = 0.f;
            for (int i = tid; i < vocab; i += sample_threads)
                if (skey(row[i]) >= c) s += __expf(row[i] - mx);
            return block_all(s, sum_op(), sm);
        };
        const float want = p.top_p * mass(t);
        t = largest_true(t, [&](uint32_t c) { return mass(c) >= want; });
    }
    if (p.min_p > 0.f) {
        const uint32_t m = skey(mx + logf(p.min_p));
        if (m > t) t = m;
    }
    const uint32_t top = skey(mx);
    if (t > top) t = top;

    // Inverse CDF in token order: thread tid owns tokens [tid*chunk, (tid+1)*chunk).
    const float inv_t = 1.f / p.temperature;
    const int chunk = (vocab + sample_threads - 1) / sample_threads;
    const int b = tid * chunk, e = min(vocab, b + chunk);
    float mine = 0.f;
    int last = -1;
    for (int i = b; i < e; ++i)
        if (skey(row[i]) >= t) mine += __expf((row[i] - mx) * inv_t), last = i;
    float before = 0.f, total = 0.f;
    block_scan_f(sm.t.scan).ExclusiveSum(mine, before, total);
    __syncthreads();
    const float target = p.u * total;
    int pick = INT_MAX;
    if (mine > 0.f && target >= before && target < before + mine) {
        float cum = before;
        pick = last;  // rounding: the chunk's last kept token
        for (int i = b; i < e; ++i) {
            if (skey(row[i]) < t) continue;
            cum += __expf((row[i] - mx) * inv_t);
            if (cum > target) { pick = i; break; }
        }
    }
    pick = block_all(pick, min_op(), sm);
    if (pick == INT_MAX) {  // target at or past the total (u ~ 1): the last kept token
        const int l = block_reduce_i(sm.t.ri).Reduce(last, max_op());
        if (tid == 0) ids[blockIdx.x] = l >= 0 ? l : first;
        return;
    }
    if (tid == 0) ids[blockIdx.x] = pick;
}

} // namespace

void sample_rows(const float* x, int64_t rows, int64_t vocab, const device_sample_params* params, int32_t* ids,
                 rl_stream stream) {
    RL_CHECK(x && params && ids, "sample_rows: null pointer");
    RL_CHECK(rows >= 0 && rows <= 0x7FFFFFFF && vocab > 0 && vocab < INT_MAX, "sample_rows: bad shape");
    if (rows == 0) return;
    launch(sample_rows_kernel, unsigned(rows), sample_threads, 0, stream, x, int(vocab), params, ids);
}

} // namespace rl::kernels
