// rope.cu: in-place rotary position embedding of q or k rows ([rows, n_heads*head_dim] bf16).
// One thread per (row, head, rotated pair), each computing its angle (rope_math.cuh): at batch 1
// one thread per (row, pair) looping over the heads would leave a handful of threads doing a
// chain of dependent load-store rounds, which is what an earlier version did. neox=false rotates
// (x[2i], x[2i+1]); neox=true rotates (x[i], x[i + rope_dim/2]). Dims past rope_dim are left alone.
// Exercised by tests/test_gpu_kernels.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "rope_math.cuh"

namespace rl::kernels {
namespace {

constexpr int threads = 128;

__global__ void rope_kernel(uint16_t* __restrict__ x, int64_t rows, int n_heads, int head_dim, int half, bool neox,
                            const int32_t* __restrict__ positions, const float* __restrict__ inv_freq) {
    pdl_wait();
    pdl_trigger();
    const int64_t row = blockIdx.x;
    const int idx = blockIdx.y * blockDim.x + threadIdx.x;  // head * half + pair
    if (row >= rows || idx >= n_heads * half) return;
    const int h = idx / half, i = idx % half;
    const int i0 = rope_lo(i, half, neox), i1 = rope_hi(i, half, neox);
    uint16_t* v = x + row * int64_t(n_heads) * head_dim + int64_t(h) * head_dim;
    float a = bf16_to_f32(v[i0]), b = bf16_to_f32(v[i1]);
    rope_rotate(positions[row], inv_freq[i], a, b);
    v[i0] = f32_to_bf16(a);
    v[i1] = f32_to_bf16(b);
}

} // namespace

void rope_bf16(uint16_t* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox,
               const int32_t* positions, const float* inv_freq, rl_stream stream) {
    RL_CHECK(x && positions && inv_freq, "rope_bf16: null pointer");
    RL_CHECK(rows >= 0 && n_heads > 0 && head_dim > 0, "rope_bf16: bad shape");
    RL_CHECK(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= head_dim,
             "rope_bf16: rope_dim " + std::to_string(rope_dim) + " must be even and <= head_dim " +
                 std::to_string(head_dim));
    if (rows == 0) return;
    const int64_t per_row = int64_t(n_heads) * (rope_dim / 2);
    RL_CHECK(rows <= 0x7FFFFFFF && (per_row + threads - 1) / threads <= 65535, "rope_bf16: too many rows or heads for one launch");
    const dim3 grid{unsigned(rows), unsigned((per_row + threads - 1) / threads)};
    launch(rope_kernel, grid, threads, 0, stream, x, rows, n_heads, head_dim, rope_dim / 2, neox, positions, inv_freq);
}

} // namespace rl::kernels
