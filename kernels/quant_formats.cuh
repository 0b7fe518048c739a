// quant_formats.cuh: the GGUF weight formats as the GEMV, dequant and embedding kernels read them
// on the device. Each format is a struct with the same members, so one kernel template serves
// bf16 and every block format:
//   unit_elems    elements one lane decodes per load (whole 8-element pieces; a block is whole units)
//   raw           the unit's bytes in registers, as loaded
//   load(row, u)  unit u of a row (the row's first byte; rows start on a block)
//   piece(r, p, w) elements [8p, 8p + 8) of the unit, as fp32, in w
// The unit is chosen so a lane's loads are few and wide (16-byte where the block layout is 16-byte
// aligned: q4_k, q5_k; 4-byte words elsewhere, funnel-shifted where blocks are only 2-byte
// aligned: q4_0, q5_0, q8_0, q6_k), and no byte is loaded twice by one lane. Element values follow
// engine/gguf/dequant.cpp (ggml's dequantize_row_*), the CPU reference the tests compare with.
#pragma once
#include "bf16_vec.cuh"
#include "gguf/ggml_types.h"

#include <cuda_fp16.h>
#include <cstdint>

namespace rl::kernels {
namespace qf {

__device__ __forceinline__ float half_lo(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))); }
__device__ __forceinline__ float half_hi(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w >> 16))); }
__device__ __forceinline__ uint32_t ld_u16(const uint8_t* p) { return __ldg(reinterpret_cast<const uint16_t*>(p)); }

// NW 4-byte words from a 2-byte aligned address, through aligned 4-byte loads: one more word
// only when p is misaligned (then every loaded word holds bytes of the range, so none is read
// past the range's end).
template <int NW>
__device__ __forceinline__ void ld_words2(const uint8_t* p, uint32_t (&w)[NW]) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    const uint32_t* b = reinterpret_cast<const uint32_t*>(a & ~uintptr_t(3));
    if (a & 2) {
        uint32_t prev = __ldg(b);
#pragma unroll
        for (int i = 0; i < NW; ++i) {
            const uint32_t next = __ldg(b + i + 1);
            w[i] = __funnelshift_r(prev, next, 16);
            prev = next;
        }
    } else {
#pragma unroll
        for (int i = 0; i < NW; ++i) w[i] = __ldg(b + i);
    }
}

// v (0 <= v < 2^23) as a float, exactly, without an I2F: the bits of 2^23 + v, less 2^23. An I2F
// issues at a quarter of the FMA rate on Hopper and would bound the block formats' GEMV.
__device__ __forceinline__ float u2f(int v) { return __int_as_float(0x4B000000 | v) - 8388608.f; }

// Byte e (0..3) of w as an unsigned value.
__device__ __forceinline__ int byte_of(uint32_t w, int e) { return int((w >> (8 * e)) & 0xFFu); }
// Byte i of a little-endian word array.
template <int NW>
__device__ __forceinline__ int byte_at(const uint32_t (&w)[NW], int i) { return byte_of(w[i / 4], i % 4); }

struct bf16 {
    static constexpr int unit_elems = 8;
    static constexpr int block_elems = 1, block_bytes = 2;
    using raw = uint4;
    __device__ static raw zero() { return make_uint4(0, 0, 0, 0); }
    __device__ static raw load(const uint8_t* row, int u) {
        // Streamed past L1 (each weight byte is read once; x stays cached).
        raw r;
        asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
            : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
            : "l"(row + int64_t(u) * 16));
        return r;
    }
    __device__ static void piece(const raw& r, int, float (&w)[8]) { widen8_bf16(r, w); }
};

// Two 4-bit values per byte, 16 bytes held as 4 words: element j < 16 is the low nibble of byte j,
// element j >= 16 the high nibble of byte j - 16 (q4_0, q4_1, q5_0, q5_1).
__device__ __forceinline__ int nib32(const uint32_t (&q)[4], int j) {
    const int b = byte_at(q, j % 16);
    return j < 16 ? (b & 0xF) : (b >> 4);
}

struct q8_0 {  // {f16 d; int8 q[32]}
    static constexpr int unit_elems = 32, block_elems = 32, block_bytes = 34;
    struct raw { uint32_t d; uint32_t q[8]; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u) * block_bytes;
        raw r;
        r.d = ld_u16(b);
        ld_words2(b + 2, r.q);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const float d = half_lo(r.d);
#pragma unroll
        for (int e = 0; e < 8; ++e) w[e] = u2f(byte_at(r.q, 8 * p + e) ^ 0x80) * d - 128.f * d;  // (q + 128) d - 128 d
    }
};

struct q4_0 {  // {f16 d; q[16]}: d * (q - 8)
    static constexpr int unit_elems = 32, block_elems = 32, block_bytes = 18;
    struct raw { uint32_t d; uint32_t q[4]; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u) * block_bytes;
        raw r;
        r.d = ld_u16(b);
        ld_words2(b + 2, r.q);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const float d = half_lo(r.d);
#pragma unroll
        for (int e = 0; e < 8; ++e) w[e] = u2f(nib32(r.q, 8 * p + e)) * d - 8.f * d;
    }
};

struct q4_1 {  // {f16 d; f16 m; q[16]}: d * q + m; 20-byte blocks, so 4-byte words
    static constexpr int unit_elems = 32, block_elems = 32, block_bytes = 20;
    struct raw { uint32_t dm; uint32_t q[4]; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint32_t* b = reinterpret_cast<const uint32_t*>(row + int64_t(u) * block_bytes);
        raw r;
        r.dm = __ldg(b);
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = __ldg(b + 1 + i);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const float d = half_lo(r.dm), m = half_hi(r.dm);
#pragma unroll
        for (int e = 0; e < 8; ++e) w[e] = u2f(nib32(r.q, 8 * p + e)) * d + m;
    }
};

struct q5_0 {  // {f16 d; u32 qh; q[16]}: d * ((nibble | bit j of qh << 4) - 16)
    static constexpr int unit_elems = 32, block_elems = 32, block_bytes = 22;
    struct raw { uint32_t d; uint32_t qh[1]; uint32_t q[4]; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u) * block_bytes;
        raw r;
        r.d = ld_u16(b);
        ld_words2(b + 2, r.qh);
        ld_words2(b + 6, r.q);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const float d = half_lo(r.d);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const int j = 8 * p + e;
            w[e] = u2f(nib32(r.q, j) | int((r.qh[0] >> j) & 1u) << 4) * d - 16.f * d;
        }
    }
};

struct q5_1 {  // {f16 d; f16 m; u32 qh; q[16]}: d * (nibble | bit j of qh << 4) + m; 24-byte blocks
    static constexpr int unit_elems = 32, block_elems = 32, block_bytes = 24;
    struct raw { uint32_t dm; uint32_t qh; uint32_t q[4]; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint32_t* b = reinterpret_cast<const uint32_t*>(row + int64_t(u) * block_bytes);
        raw r;
        r.dm = __ldg(b);
        r.qh = __ldg(b + 1);
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = __ldg(b + 2 + i);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const float d = half_lo(r.dm), m = half_hi(r.dm);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const int j = 8 * p + e;
            w[e] = u2f(nib32(r.q, j) | int((r.qh >> j) & 1u) << 4) * d + m;
        }
    }
};

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of q4_k and q5_k
// (words h[1..3] of the block's 16-byte header). j is known only at run time (the unit's group),
// so bytes are picked with selects and shifts: an indexed register array would go to local memory.
__device__ __forceinline__ void scale_min_k4(const uint32_t (&h)[4], int j, int& sc, int& m) {
    auto s = [&](int i) {
        const uint32_t w = i < 4 ? h[1] : i < 8 ? h[2] : h[3];
        return int((w >> (8 * (i & 3))) & 0xFFu);
    };
    if (j < 4) {
        sc = s(j) & 63;
        m = s(j + 4) & 63;
    } else {
        sc = (s(j + 4) & 0xF) | ((s(j - 4) >> 6) << 4);
        m = (s(j + 4) >> 4) | ((s(j) >> 6) << 4);
    }
}

// q4_k: 256-element blocks {f16 d; f16 dmin; scales[12]; q[128]} (144 bytes, 16-byte aligned).
// A unit is one 64-element group g: sub-block 2g in the low nibbles of q[32g, 32g + 32), 2g + 1
// in their high nibbles; x = d * sc * q - dmin * m.
struct q4_k {
    static constexpr int unit_elems = 64, block_elems = 256, block_bytes = 144;
    struct raw { uint32_t h[4]; uint32_t q[8]; int g; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u / 4) * block_bytes;
        raw r;
        r.g = u % 4;
        const uint4 h = __ldg(reinterpret_cast<const uint4*>(b));
        const uint4 q0 = __ldg(reinterpret_cast<const uint4*>(b + 16 + 32 * r.g));
        const uint4 q1 = __ldg(reinterpret_cast<const uint4*>(b + 32 + 32 * r.g));
        r.h[0] = h.x, r.h[1] = h.y, r.h[2] = h.z, r.h[3] = h.w;
        r.q[0] = q0.x, r.q[1] = q0.y, r.q[2] = q0.z, r.q[3] = q0.w;
        r.q[4] = q1.x, r.q[5] = q1.y, r.q[6] = q1.z, r.q[7] = q1.w;
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const bool hi = p >= 4;
        int sc, m;
        scale_min_k4(r.h, 2 * r.g + (hi ? 1 : 0), sc, m);
        const float a = half_lo(r.h[0]) * float(sc), b = half_hi(r.h[0]) * float(m);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const int byte = byte_at(r.q, 8 * (p % 4) + e);
            w[e] = a * u2f(hi ? byte >> 4 : byte & 0xF) - b;
        }
    }
};

// q5_k: {f16 d; f16 dmin; scales[12]; qh[32]; q[128]} (176 bytes). Unit = 64-element group g as
// q4_k, the fifth bit of element l of the low (high) half from bit 2g (2g + 1) of qh[l].
struct q5_k {
    static constexpr int unit_elems = 64, block_elems = 256, block_bytes = 176;
    struct raw { uint32_t h[4]; uint32_t qh[8]; uint32_t q[8]; int g; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u / 4) * block_bytes;
        raw r;
        r.g = u % 4;
        const uint4* v = reinterpret_cast<const uint4*>(b);
        const uint4 h = __ldg(v), qh0 = __ldg(v + 1), qh1 = __ldg(v + 2);
        const uint4 q0 = __ldg(reinterpret_cast<const uint4*>(b + 48 + 32 * r.g));
        const uint4 q1 = __ldg(reinterpret_cast<const uint4*>(b + 64 + 32 * r.g));
        r.h[0] = h.x, r.h[1] = h.y, r.h[2] = h.z, r.h[3] = h.w;
        r.qh[0] = qh0.x, r.qh[1] = qh0.y, r.qh[2] = qh0.z, r.qh[3] = qh0.w;
        r.qh[4] = qh1.x, r.qh[5] = qh1.y, r.qh[6] = qh1.z, r.qh[7] = qh1.w;
        r.q[0] = q0.x, r.q[1] = q0.y, r.q[2] = q0.z, r.q[3] = q0.w;
        r.q[4] = q1.x, r.q[5] = q1.y, r.q[6] = q1.z, r.q[7] = q1.w;
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const bool hi = p >= 4;
        int sc, m;
        scale_min_k4(r.h, 2 * r.g + (hi ? 1 : 0), sc, m);
        const float a = half_lo(r.h[0]) * float(sc), b = half_hi(r.h[0]) * float(m);
        const int bit = 2 * r.g + (hi ? 1 : 0);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const int l = 8 * (p % 4) + e;
            const int byte = byte_at(r.q, l);
            const int q = (hi ? byte >> 4 : byte & 0xF) + (((byte_at(r.qh, l) >> bit) & 1) << 4);
            w[e] = a * u2f(q) - b;
        }
    }
};

// q6_k: {ql[128]; qh[64]; int8 scales[16]; f16 d} (210 bytes, 2-byte aligned). A unit is one
// 128-element half h (ql[64h, +64), qh[32h, +32), scales[8h, +8)); element 32t + l (t = 0..3,
// l = 0..31) is ((ql[l + 32 (t & 1)] >> 4 (t >> 1)) & 0xF | ((qh[l] >> 2t) & 3) << 4) - 32,
// times d * scales[l / 16 + 2t].
struct q6_k {
    static constexpr int unit_elems = 128, block_elems = 256, block_bytes = 210;
    struct raw { uint32_t ql[16]; uint32_t qh[8]; uint32_t sc[2]; uint32_t d; };
    __device__ static raw zero() { return raw{}; }
    __device__ static raw load(const uint8_t* row, int u) {
        const uint8_t* b = row + int64_t(u / 2) * block_bytes;
        const int h = u % 2;
        raw r;
        ld_words2(b + 64 * h, r.ql);
        ld_words2(b + 128 + 32 * h, r.qh);
        ld_words2(b + 192 + 8 * h, r.sc);
        r.d = ld_u16(b + 208);
        return r;
    }
    __device__ static void piece(const raw& r, int p, float (&w)[8]) {
        const int t = p / 4, l0 = 8 * (p % 4);
        const float a = half_lo(r.d) * float(int8_t(byte_at(r.sc, l0 / 16 + 2 * t)));
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const int l = l0 + e;
            const int lo = (byte_at(r.ql, l + 32 * (t & 1)) >> (4 * (t >> 1))) & 0xF;
            const int q = lo | ((byte_at(r.qh, l) >> (2 * t)) & 3) << 4;  // 0..63; the value is q - 32
            w[e] = a * u2f(q) - 32.f * a;
        }
    }
};

} // namespace qf

/// Calls f(qf::FORMAT{}) for a weight type the GEMV and dequant kernels take; returns false
/// (without calling f) for any other type.
template <class F>
bool with_format(ggml_type t, F&& f) {
    switch (t) {
    case ggml_type::bf16: f(qf::bf16{}); return true;
    case ggml_type::q8_0: f(qf::q8_0{}); return true;
    case ggml_type::q4_0: f(qf::q4_0{}); return true;
    case ggml_type::q4_1: f(qf::q4_1{}); return true;
    case ggml_type::q5_0: f(qf::q5_0{}); return true;
    case ggml_type::q5_1: f(qf::q5_1{}); return true;
    case ggml_type::q4_k: f(qf::q4_k{}); return true;
    case ggml_type::q5_k: f(qf::q5_k{}); return true;
    case ggml_type::q6_k: f(qf::q6_k{}); return true;
    default: return false;
    }
}

} // namespace rl::kernels
