// dequant: ggml block formats to fp32, following ggml-quants.c dequantize_row_* step for step
// (same operation order, so results are bit-identical to ggml and gguf-py on a build without
// FMA contraction; ridgeline_core targets x86-64-v2, which has no FMA).
// Also the fp16/bf16 scalar conversions, done on bits so subnormals, inf and NaN are exact.
// Exercised by tests/test_dequant.cpp (hand-built blocks and gguf-py golden rows).
#include "gguf/dequant.h"
#include "common/engine_error.h"
#include <bit>
#include <cstring>
#include <string>

namespace rl {

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf, or NaN with its payload kept
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
    } else if (mant == 0) {
        bits = sign;  // +-0
    } else {
        // Subnormal half: normalise the mantissa; every half subnormal is a normal float.
        int e = 1;
        while ((mant & 0x400) == 0) { mant <<= 1; --e; }
        bits = sign | (static_cast<uint32_t>(e + 112) << 23) | ((mant & 0x3ff) << 13);
    }
    return std::bit_cast<float>(bits);
}

// Shifts m right by s (1..31) rounding to nearest, ties to even.
static uint32_t shift_rne(uint32_t m, int s) {
    const uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

uint16_t fp32_to_fp16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    const uint32_t e = (x >> 23) & 0xff;
    const uint32_t mant = x & 0x7fffff;
    if (e == 0xff) {
        if (mant == 0) return sign | 0x7c00;
        return sign | 0x7e00 | static_cast<uint16_t>(mant >> 13);  // NaN stays NaN, made quiet
    }
    if (e >= 143) return sign | 0x7c00;  // >= 2^16: beyond the largest half even before rounding
    if (e >= 113) {
        // Normal half. A rounding carry out of the mantissa bumps the exponent, which is
        // exactly right, including the step from 65504 up to inf.
        const uint32_t h = ((e - 112) << 10) | (mant >> 13);
        const uint32_t rem = mant & 0x1fff;
        const uint32_t r = (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ? h + 1 : h;
        return sign | static_cast<uint16_t>(r);
    }
    // Subnormal half (units of 2^-24): value = (mant | 2^23) * 2^(e-150). Below e = 102 the
    // value is under half the smallest subnormal and rounds to zero (float subnormals too).
    if (e < 102) return sign;
    const uint32_t r = shift_rne(mant | 0x800000, static_cast<int>(126 - e));
    return sign | static_cast<uint16_t>(r);  // r == 0x400 is the smallest normal: also right
}

float bf16_to_fp32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t fp32_to_bf16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 64);  // quiet NaN, as ggml
    return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

namespace {

constexpr int qk = 32;
constexpr int qk_k = 256;

inline float half_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
}

// Block layouts (byte offsets) are ggml's block_q* structs, read with memcpy so no alignment
// is assumed: tensor data in a GGUF is aligned, but a caller's row pointer need not be.
void deq_q4_0(const uint8_t* b, float* y) {  // d | qs[16]
    const float d = half_at(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < qk / 2; ++j) {
        y[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
        y[j + qk / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
}

void deq_q4_1(const uint8_t* b, float* y) {  // d | m | qs[16]
    const float d = half_at(b), m = half_at(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < qk / 2; ++j) {
        y[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
        y[j + qk / 2] = static_cast<float>(qs[j] >> 4) * d + m;
    }
}

void deq_q5_0(const uint8_t* b, float* y) {  // d | qh (u32) | qs[16]
    const float d = half_at(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < qk / 2; ++j) {
        const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
        const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
        y[j] = static_cast<float>(((qs[j] & 0x0f) | xh0) - 16) * d;
        y[j + qk / 2] = static_cast<float>(((qs[j] >> 4) | xh1) - 16) * d;
    }
}

void deq_q5_1(const uint8_t* b, float* y) {  // d | m | qh (u32) | qs[16]
    const float d = half_at(b), m = half_at(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < qk / 2; ++j) {
        const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
        const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
        y[j] = static_cast<float>((qs[j] & 0x0f) | xh0) * d + m;
        y[j + qk / 2] = static_cast<float>((qs[j] >> 4) | xh1) * d + m;
    }
}

void deq_q8_0(const uint8_t* b, float* y) {  // d | int8 qs[32]
    const float d = half_at(b);
    for (int j = 0; j < qk; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

} // namespace

// The 12 scale bytes of q4_k/q5_k pack eight 6-bit scales and eight 6-bit mins.
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

namespace {

void deq_q4_k(const uint8_t* b, float* y) {  // d | dmin | scales[12] | qs[128]
    const float d = half_at(b), min = half_at(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < qk_k; j += 64) {
        get_scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

void deq_q5_k(const uint8_t* b, float* y) {  // d | dmin | scales[12] | qh[32] | qs[128]
    const float d = half_at(b), min = half_at(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* ql = b + 48;
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;  // the qh bit for the low and high nibble of this 64-group
    for (int j = 0; j < qk_k; j += 64) {
        get_scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 = static_cast<uint8_t>(u1 << 2);
        u2 = static_cast<uint8_t>(u2 << 2);
    }
}

void deq_q6_k(const uint8_t* b, float* y) {  // ql[128] | qh[64] | int8 scales[16] | d
    const float d = half_at(b + 208);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    for (int n = 0; n < qk_k; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = static_cast<int8_t>((ql[l + 0] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = static_cast<int8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * static_cast<float>(q1);
            y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
            y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
            y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

} // namespace

void dequantize_row(ggml_type t, const void* src, float* dst, int64_t n) {
    const ggml_type_traits tr = ggml_traits(t);
    RL_CHECK(tr.name, "cannot dequantize unknown type " + std::to_string(static_cast<uint32_t>(t)));
    RL_CHECK(tr.dequantizable, std::string("dequantization of ") + tr.name + " is not supported");
    RL_CHECK(n >= 0 && n % tr.block_elems == 0,
             "cannot dequantize " + std::to_string(n) + " " + tr.name + " elements: not a multiple of the block size " +
                 std::to_string(tr.block_elems));
    const auto* p = static_cast<const uint8_t*>(src);
    const int64_t nb = n / tr.block_elems;
    void (*block_fn)(const uint8_t*, float*) = nullptr;
    switch (t) {
    case ggml_type::f32:
        if (n) std::memcpy(dst, p, static_cast<size_t>(n) * 4);
        return;
    case ggml_type::f16:
    case ggml_type::bf16: {
        const bool is_f16 = t == ggml_type::f16;
        for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            dst[i] = is_f16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
        }
        return;
    }
    case ggml_type::q4_0: block_fn = deq_q4_0; break;
    case ggml_type::q4_1: block_fn = deq_q4_1; break;
    case ggml_type::q5_0: block_fn = deq_q5_0; break;
    case ggml_type::q5_1: block_fn = deq_q5_1; break;
    case ggml_type::q8_0: block_fn = deq_q8_0; break;
    case ggml_type::q4_k: block_fn = deq_q4_k; break;
    case ggml_type::q5_k: block_fn = deq_q5_k; break;
    case ggml_type::q6_k: block_fn = deq_q6_k; break;
    default: RL_THROW(std::string("dequantization of ") + tr.name + " is not supported");
    }
    for (int64_t i = 0; i < nb; ++i) block_fn(p + i * tr.block_bytes, dst + i * tr.block_elems);
}

} // namespace rl
