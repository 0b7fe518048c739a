// cpu_quant.cpp: see cpu_quant.h. Owns the feature detection and dispatch, the activation
// quantizer, and the portable scalar kernels (the fallback below AVX2, and a second, plainer
// statement of each format's integer dot product: signed weights, no offset tricks).
#include "backend/cpu_quant.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "common/engine_error.h"
#include "gguf/dequant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rl::cpu_quant {

const char* isa_name(isa i) {
    switch (i) {
    case isa::scalar: return "scalar";
    case isa::avx2: return "avx2";
    case isa::avx512_vnni: return "avx512-vnni";
    }
    return "scalar";
}

bool isa_supported(isa i) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    // F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    switch (i) {
    case isa::scalar: return true;
    case isa::avx2: return avx2;
    case isa::avx512_vnni:
        return avx2 && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    }
    return false;
#else
    return i == isa::scalar;
#endif
}

isa detected_isa() {
    static const isa best = [] {
        isa cap = isa::avx512_vnni;
        if (const char* e = std::getenv("RIDGELINE_CPU_ISA")) {
            const std::string s = e;
            if (s == "scalar") cap = isa::scalar;
            else if (s == "avx2") cap = isa::avx2;
        }
        for (isa i : {isa::avx512_vnni, isa::avx2})
            if (int(i) <= int(cap) && isa_supported(i)) return i;
        return isa::scalar;
    }();
    return best;
}

bool has_kernels(ggml_type t) { return scalar_kernel(t) != nullptr; }

void resize_q8(q8_rows& q, int64_t n, int64_t k) {
    RL_CHECK(k % 32 == 0, "cpu_quant: activation rows of " + std::to_string(k) + " are not whole blocks of 32");
    q.n = n;
    q.k = k;
    q.qs.resize(size_t(n * k));
    q.ql.resize(size_t(n * k));
    q.d.resize(size_t(n * k / 32));
    q.s.resize(size_t(n * k / 32));
    q.sum16.resize(size_t(n * k / 16));
    q.sum16l.resize(size_t(n * k / 16));
}

// Rounds to nearest (ties away, as ggml's reference quantizer); vectorized by the x86-64-v3 clone.
// hi = floor((q + 128) / 256) keeps hi in [-127, 127]; lo = q - 256 hi is then in [-128, 127],
// and -128 becomes -127 (one step of 1/32512 of the block's max) because the AVX2 q8_0 kernel
// negates activations and -128 has no int8 negation.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void quantize_rows(const float* x, int64_t r0,
                                                                                int64_t r1, q8_rows& q) {
    const int64_t k = q.k, nb = k / 32;
    for (int64_t i = r0; i < r1; ++i) {
        const float* xr = x + i * k;
        int8_t* qs = q.qs.data() + i * k;
        int8_t* ql = q.ql.data() + i * k;
        for (int64_t b = 0; b < nb; ++b) {
            float amax = 0.f;
            for (int e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(xr[32 * b + e]));
            const float d = amax / float(kQMax), id = d != 0.f ? float(kQMax) / amax : 0.f;
            int sh[2] = {0, 0}, sl[2] = {0, 0};
            for (int h = 0; h < 2; ++h)
                for (int e = 16 * h; e < 16 * h + 16; ++e) {
                    const int v = int(std::round(xr[32 * b + e] * id));
                    const int hi = (v + 128) >> 8;
                    const int lo = std::max(v - 256 * hi, -127);
                    qs[32 * b + e] = int8_t(hi);
                    ql[32 * b + e] = int8_t(lo);
                    sh[h] += hi;
                    sl[h] += lo;
                }
            q.d[size_t(i * nb + b)] = d;
            q.s[size_t(i * nb + b)] = d * float(256 * (sh[0] + sh[1]) + sl[0] + sl[1]);
            for (int h = 0; h < 2; ++h) {
                q.sum16[size_t(i * 2 * nb + 2 * b + h)] = int16_t(sh[h]);
                q.sum16l[size_t(i * 2 * nb + 2 * b + h)] = int16_t(sl[h]);
            }
        }
    }
}

namespace {

float f16_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
}

// One block of 32 weights as w = dw * v[e] + bw, v signed; for q6_k (two scales a block) the
// per-16 scale is folded into v. Block j of a row; k-quants find their super-block from j.
using decode_fn = void (*)(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw);

void dec_q4_0(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 18 * j;
    dw = f16_at(b), bw = 0.f;
    for (int e = 0; e < 16; ++e) v[e] = (b[2 + e] & 15) - 8, v[e + 16] = (b[2 + e] >> 4) - 8;
}
void dec_q4_1(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 20 * j;
    dw = f16_at(b), bw = f16_at(b + 2);
    for (int e = 0; e < 16; ++e) v[e] = b[4 + e] & 15, v[e + 16] = b[4 + e] >> 4;
}
void dec_q5_0(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 22 * j;
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    dw = f16_at(b), bw = 0.f;
    for (int e = 0; e < 16; ++e) {
        v[e] = int((b[6 + e] & 15) | ((qh >> e) & 1) << 4) - 16;
        v[e + 16] = int((b[6 + e] >> 4) | ((qh >> (e + 16)) & 1) << 4) - 16;
    }
}
void dec_q5_1(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 24 * j;
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    dw = f16_at(b), bw = f16_at(b + 2);
    for (int e = 0; e < 16; ++e) {
        v[e] = int((b[8 + e] & 15) | ((qh >> e) & 1) << 4);
        v[e + 16] = int((b[8 + e] >> 4) | ((qh >> (e + 16)) & 1) << 4);
    }
}
void dec_q8_0(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 34 * j;
    dw = f16_at(b), bw = 0.f;
    for (int e = 0; e < 32; ++e) v[e] = int8_t(b[2 + e]);
}
void dec_q4_k(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 144 * (j / 8);
    const int s = int(j % 8);
    uint8_t sc, m;
    get_scale_min_k4(s, b + 4, &sc, &m);
    dw = f16_at(b) * float(sc), bw = -f16_at(b + 2) * float(m);
    const uint8_t* q = b + 16 + 32 * (s / 2);
    for (int e = 0; e < 32; ++e) v[e] = s % 2 ? q[e] >> 4 : q[e] & 15;
}
void dec_q5_k(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 176 * (j / 8);
    const int s = int(j % 8);
    uint8_t sc, m;
    get_scale_min_k4(s, b + 4, &sc, &m);
    dw = f16_at(b) * float(sc), bw = -f16_at(b + 2) * float(m);
    const uint8_t *qh = b + 16, *q = b + 48 + 32 * (s / 2);
    for (int e = 0; e < 32; ++e) v[e] = (s % 2 ? q[e] >> 4 : q[e] & 15) | ((qh[e] >> s) & 1) << 4;
}
void dec_q6_k(const uint8_t* row, int64_t j, int32_t* v, float& dw, float& bw) {
    const uint8_t* b = row + 210 * (j / 8);
    const int h = int(j % 8) / 4, g = int(j % 4);  // half of the super-block, group of 32 in it
    const uint8_t *ql = b + 64 * h + (g % 2) * 32, *qh = b + 128 + 32 * h;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h + 2 * g);
    dw = f16_at(b + 208), bw = 0.f;
    for (int e = 0; e < 32; ++e) {
        const int lo = g < 2 ? ql[e] & 15 : ql[e] >> 4;
        v[e] = sc[e / 16] * ((lo | ((qh[e] >> (2 * g)) & 3) << 4) - 32);
    }
}

template <decode_fn dec>
void gemv_scalar(const block_weight& w, const q8_rows& a, int64_t r0, int64_t r1, float* out, int64_t ldo) {
    const int64_t nb = w.k / 32;
    int32_t v[32];
    float dw, bw;
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.data + size_t(r) * w.row_bytes;
        for (int64_t i = 0; i < a.n; ++i) {
            const int8_t *qa = a.row_qs(i), *la = a.row_ql(i);
            float sum = 0.f;
            for (int64_t j = 0; j < nb; ++j) {
                dec(row, j, v, dw, bw);
                int64_t isum = 0;  // q6_k's folded scale x 16-bit q can pass int32 over 32 terms
                for (int e = 0; e < 32; ++e) isum += int64_t(v[e]) * (256 * qa[32 * j + e] + la[32 * j + e]);
                sum += dw * a.row_d(i)[j] * float(isum) + bw * a.row_s(i)[j];
            }
            out[i * ldo + r] = sum;
        }
    }
}

} // namespace

gemv_fn scalar_kernel(ggml_type t) {
    switch (t) {
    case ggml_type::q4_0: return gemv_scalar<dec_q4_0>;
    case ggml_type::q4_1: return gemv_scalar<dec_q4_1>;
    case ggml_type::q5_0: return gemv_scalar<dec_q5_0>;
    case ggml_type::q5_1: return gemv_scalar<dec_q5_1>;
    case ggml_type::q8_0: return gemv_scalar<dec_q8_0>;
    case ggml_type::q4_k: return gemv_scalar<dec_q4_k>;
    case ggml_type::q5_k: return gemv_scalar<dec_q5_k>;
    case ggml_type::q6_k: return gemv_scalar<dec_q6_k>;
    default: return nullptr;
    }
}

void gemv_rows(const block_weight& w, const q8_rows& a, int64_t r0, int64_t r1, float* out, int64_t ldo, isa level) {
    gemv_fn f = nullptr;
    if (level == isa::avx512_vnni) f = vnni_kernel(w.type);
    else if (level == isa::avx2) f = avx2_kernel(w.type);
    if (!f) f = scalar_kernel(w.type);
    RL_CHECK(f != nullptr, "cpu_quant: no kernel for " + ggml_type_name(w.type));
    RL_CHECK(a.k == w.k, "cpu_quant: activations of " + std::to_string(a.k) + " for weight rows of " + std::to_string(w.k));
    f(w, a, r0, r1, out, ldo);
}

} // namespace rl::cpu_quant
