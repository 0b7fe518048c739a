// rope_math.cuh: the rotary angle and rotation shared by rope.cu, the fused rope + KV store
// (kv_store.cu) and the q/k/v GEMV's rope end (gemv.cu).
// The angle pos * inv_freq and its reduction to [-pi, pi] are computed in fp64, like the CPU
// reference: the angle reaches thousands of radians, where fp32 would lose ~1e-3 rad. The fast
// fp32 sincos then runs on the small reduced angle (abs error ~1e-6, far under bf16's); a full
// fp64 sincos would pull in a local-memory slow path for huge arguments.
#pragma once
#include <cstdint>

namespace rl::kernels {

__device__ __forceinline__ void rope_sincos(int pos, float inv_freq, float* sn, float* cs) {
    const double th = double(pos) * double(inv_freq);
    const double two_pi = 6.283185307179586, inv_two_pi = 0.15915494309189535;  // a multiply, not an fp64 divide
    const float r = float(th - rint(th * inv_two_pi) * two_pi);
    __sincosf(r, sn, cs);
}

// Rotates the pair (a, b) by the angle pos * inv_freq: every rope in the kernels (rope.cu, the
// fused rope + KV store, the q/k/v GEMV's epilogue) goes through here, so they agree bit for bit.
// rope_apply is the rotation alone, for kernels that compute each angle's sine and cosine once
// and rotate many heads by it.
__device__ __forceinline__ void rope_apply(float sn, float cs, float& a, float& b) {
    const float r0 = a * cs - b * sn, r1 = a * sn + b * cs;
    a = r0, b = r1;
}

__device__ __forceinline__ void rope_rotate(int pos, float inv_freq, float& a, float& b) {
    float sn, cs;
    rope_sincos(pos, inv_freq, &sn, &cs);
    rope_apply(sn, cs, a, b);
}

// Indices of rotated pair i inside a head: neox rotates (i, i + half), otherwise (2i, 2i + 1).
__device__ __forceinline__ int rope_lo(int i, int half, bool neox) { return neox ? i : 2 * i; }
__device__ __forceinline__ int rope_hi(int i, int half, bool neox) { return neox ? i + half : 2 * i + 1; }

} // namespace rl::kernels
