// quant_dot.cuh: the block formats' integer dot products, for the GEMV's int8 path. x comes as
// q8 blocks of 32 elements (int8 q and a float2 (d, s): x = d * q, s = d * sum(q)), and a weight
// unit of quant_formats.cuh (one load of Q) is dotted with the unit_elems / 32 x blocks it covers
// through dp4a: four int8 products per instruction where the fp32 path spends a byte extract, a
// conversion and two FMAs per element, which bounded that path by the SMs' issue rate far below
// the memory's bandwidth. Each format's offset or minimum folds into s, so the integer sums stay
// unsigned nibbles (or signed bytes) times int8, exactly; only x's int8 rounding is new, the
// rounding llama.cpp's mmvq makes as well.
#pragma once
#include "quant_formats.cuh"

namespace rl::kernels {
namespace qf {

// A unit's x: int8 words xq[t][w] (elements 4w..4w+3 of x block t) and (d, s) per block.
template <int UB>
struct x_q8 {
    int q[UB][8];
    float2 ds[UB];
};

__device__ __forceinline__ int dp4a(int a, int b, int c) { return __dp4a(a, b, c); }

// Bytes 4w..4w+3 of the 32-bit mask m (one bit per element) as bit 4 of four bytes.
__device__ __forceinline__ int bits_to_b4(uint32_t m, int w) {
    return int(((((m >> (4 * w)) & 0xFu) * 0x00204081u) & 0x01010101u) << 4);
}

// The 16 nibble-packed bytes of q4_0 .. q5_1 against one x block: sum of (nibble | fifth bit) * xq.
template <bool Fifth>
__device__ __forceinline__ int dot_nib32(const uint32_t (&q)[4], uint32_t qh, const int (&x)[8]) {
    int s = 0;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
        int lo = int(q[w] & 0x0F0F0F0Fu), hi = int((q[w] >> 4) & 0x0F0F0F0Fu);
        if constexpr (Fifth) {
            lo |= bits_to_b4(qh, w);
            hi |= bits_to_b4(qh >> 16, w);
        }
        s = dp4a(lo, x[w], s);
        s = dp4a(hi, x[w + 4], s);
    }
    return s;
}

__device__ __forceinline__ float dot8(const q8_0::raw& r, const x_q8<1>& x) {
    int s = 0;
#pragma unroll
    for (int w = 0; w < 8; ++w) s = dp4a(int(r.q[w]), x.q[0][w], s);
    return half_lo(r.d) * x.ds[0].x * float(s);
}

__device__ __forceinline__ float dot8(const q4_0::raw& r, const x_q8<1>& x) {  // d (q - 8)
    const float s = float(dot_nib32<false>(r.q, 0, x.q[0]));
    return half_lo(r.d) * (x.ds[0].x * s - 8.f * x.ds[0].y);
}

__device__ __forceinline__ float dot8(const q4_1::raw& r, const x_q8<1>& x) {  // d q + m
    const float s = float(dot_nib32<false>(r.q, 0, x.q[0]));
    return half_lo(r.dm) * x.ds[0].x * s + half_hi(r.dm) * x.ds[0].y;
}

__device__ __forceinline__ float dot8(const q5_0::raw& r, const x_q8<1>& x) {  // d (q - 16)
    const float s = float(dot_nib32<true>(r.q, r.qh[0], x.q[0]));
    return half_lo(r.d) * (x.ds[0].x * s - 16.f * x.ds[0].y);
}

__device__ __forceinline__ float dot8(const q5_1::raw& r, const x_q8<1>& x) {  // d q + m
    const float s = float(dot_nib32<true>(r.q, r.qh, x.q[0]));
    return half_lo(r.dm) * x.ds[0].x * s + half_hi(r.dm) * x.ds[0].y;
}

// q4_k and q5_k: group g's sub-blocks 2g (low nibbles, x block 0) and 2g + 1 (high, x block 1),
// each d sc q - dmin m.
template <bool Fifth>
__device__ __forceinline__ float dot_k4(const uint32_t (&h)[4], const uint32_t (&q)[8], const uint32_t* qh, int g,
                                        const x_q8<2>& x) {
    int s0 = 0, s1 = 0;
#pragma unroll
    for (int w = 0; w < 8; ++w) {
        int lo = int(q[w] & 0x0F0F0F0Fu), hi = int((q[w] >> 4) & 0x0F0F0F0Fu);
        if constexpr (Fifth) {
            lo |= int(((qh[w] >> (2 * g)) & 0x01010101u) << 4);
            hi |= int(((qh[w] >> (2 * g + 1)) & 0x01010101u) << 4);
        }
        s0 = dp4a(lo, x.q[0][w], s0);
        s1 = dp4a(hi, x.q[1][w], s1);
    }
    int sc0, m0, sc1, m1;
    scale_min_k4(h, 2 * g, sc0, m0);
    scale_min_k4(h, 2 * g + 1, sc1, m1);
    const float d = half_lo(h[0]), dmin = half_hi(h[0]);
    return d * (float(sc0) * x.ds[0].x * float(s0) + float(sc1) * x.ds[1].x * float(s1)) -
           dmin * (float(m0) * x.ds[0].y + float(m1) * x.ds[1].y);
}

__device__ __forceinline__ float dot8(const q4_k::raw& r, const x_q8<2>& x) { return dot_k4<false>(r.h, r.q, nullptr, r.g, x); }
__device__ __forceinline__ float dot8(const q5_k::raw& r, const x_q8<2>& x) { return dot_k4<true>(r.h, r.q, r.qh, r.g, x); }

// q6_k: x block t of the half is element 32t + l, scale sc[l / 16 + 2t]; the 6-bit q (0..63)
// becomes the signed q - 32 bytewise as (q + 96) ^ 0x80 (no byte carries: q + 96 < 256).
__device__ __forceinline__ float dot8(const q6_k::raw& r, const x_q8<4>& x) {
    float acc = 0.f;
#pragma unroll
    for (int t = 0; t < 4; ++t) {
        int s0 = 0, s1 = 0;
#pragma unroll
        for (int w = 0; w < 8; ++w) {
            const uint32_t lo = (r.ql[w + 8 * (t & 1)] >> (4 * (t >> 1))) & 0x0F0F0F0Fu;
            const uint32_t q = lo | (((r.qh[w] >> (2 * t)) & 0x03030303u) << 4);
            const int v = int((q + 0x60606060u) ^ 0x80808080u);
            if (w < 4) s0 = dp4a(v, x.q[t][w], s0);
            else s1 = dp4a(v, x.q[t][w], s1);
        }
        const float a = float(int8_t(byte_at(r.sc, 2 * t))), b = float(int8_t(byte_at(r.sc, 2 * t + 1)));
        acc += x.ds[t].x * (a * float(s0) + b * float(s1));
    }
    return half_lo(r.d) * acc;
}

} // namespace qf
} // namespace rl::kernels
