// cpu_gemm: the AVX-512 fp32 product for many activation rows (prefill), in the packed
// outer-product form of BLIS/GotoBLAS: a panel of 32 weight rows is transposed k-major (for each kk
// the 32 weights w[c0..c0+31][kk], two zmm), and a micro-kernel keeps R x 32 outputs in registers,
// broadcasting x[i][kk] for R rows against the two weight vectors. Each weight load then feeds R
// multiply-adds instead of one, and no horizontal sums remain at the end. Also owns the AVX-512
// target attribute and the CPU check (has_avx512) that cpu_kernels.h's dispatch uses.
// Included by cpu_kernels.h only (internal linkage, like the rest of the kernels).
#pragma once
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace rl::cpu_kernels {

#define RL_AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,f16c")))

// RIDGELINE_CPU_ISA=avx2|scalar (cpu_quant.h's cap, for comparisons) turns it off too.
static bool has_avx512() {
    static const bool yes = [] {
        if (const char* e = std::getenv("RIDGELINE_CPU_ISA"); e && *e && std::string_view(e) != "avx512-vnni")
            return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    }();
    return yes;
}

constexpr int kPanel = 32;  // weight rows per packed panel: two zmm a kk
constexpr int kGemmR = 12;  // x rows per micro-tile: 24 accumulators + 2 weights + 1 broadcast of 32 zmm
// No blocking of k: a micro-tile runs over all of k in registers. The panel (128 bytes a kk) and
// the R x rows stream from L2, which keeps up with 2R multiply-adds a kk; passes of 256 or 512 kk
// that keep the panel slice in L1 but reload the outputs each pass measured slower.
// Fewer x rows than this: packing a panel (a 16 x 16 register transpose per 256 weights) costs
// more than it saves, and matmul_cols_v4's dot-product tile is used instead.
constexpr int64_t kGemmMinRows = 10;


// Two-source lane shuffles as generic vector shuffles: GCC 12's unpack and shuffle_f32x4 intrinsics
// pass an undefined operand that trips -Wmaybe-uninitialized in every includer. Result element
// e of 128-bit lane j is element I[e] of lane L[j] of the pair (a, b), where I or L >= 4 takes it
// from b: I = 0 4 1 5, L = 0 1 2 3 is unpacklo_ps; I = 0 1 2 3, L = 0 2 4 6 is shuffle_f32x4 0x88.
// (__builtin_shufflevector: GCC 12 and clang both have it; GCC's __builtin_shuffle is GCC's only.)
template <int I0, int I1, int I2, int I3, int L0, int L1, int L2, int L3>
struct shuf_index {
    static constexpr int at(int j) {
        const int L[4] = {L0, L1, L2, L3}, I[4] = {I0, I1, I2, I3};
        const int lane = L[j / 4], e = I[j % 4];
        return (e >= 4 ? 16 : 0) + 4 * (lane % 4) + (lane >= 4 ? 16 : 0) + e % 4;
    }
};

template <int I0, int I1, int I2, int I3, int L0, int L1, int L2, int L3>
static inline __attribute__((always_inline)) RL_AVX512_TARGET __m512 shuf(__m512 a, __m512 b) {
    using M = shuf_index<I0, I1, I2, I3, L0, L1, L2, L3>;
    return __builtin_shufflevector(a, b, M::at(0), M::at(1), M::at(2), M::at(3), M::at(4), M::at(5), M::at(6),
                                   M::at(7), M::at(8), M::at(9), M::at(10), M::at(11), M::at(12), M::at(13),
                                   M::at(14), M::at(15));
}

// 16 x 16 transpose in registers: r[i] holds row i on entry, column i on exit.
static inline __attribute__((always_inline)) RL_AVX512_TARGET void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; ++i) {  // unpacklo / unpackhi_ps: a0 b0 a1 b1, a2 b2 a3 b3 in each lane
        t[2 * i] = shuf<0, 4, 1, 5, 0, 1, 2, 3>(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = shuf<2, 6, 3, 7, 0, 1, 2, 3>(r[2 * i], r[2 * i + 1]);
    }
    // unpacklo / unpackhi_pd: u[4g + q], lane j: rows 4g..4g+3 of column 4j + q.
    for (int g = 0; g < 4; ++g) {
        u[4 * g] = shuf<0, 1, 4, 5, 0, 1, 2, 3>(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = shuf<2, 3, 6, 7, 0, 1, 2, 3>(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = shuf<0, 1, 4, 5, 0, 1, 2, 3>(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = shuf<2, 3, 6, 7, 0, 1, 2, 3>(t[4 * g + 1], t[4 * g + 3]);
    }
    // shuffle_f32x4 0x88 / 0xdd: lanes a0 a2 b0 b2 / a1 a3 b1 b3.
    for (int q = 0; q < 4; ++q) {
        const __m512 v = shuf<0, 1, 2, 3, 0, 2, 4, 6>(u[q], u[4 + q]), w = shuf<0, 1, 2, 3, 1, 3, 5, 7>(u[q], u[4 + q]);
        const __m512 x = shuf<0, 1, 2, 3, 0, 2, 4, 6>(u[8 + q], u[12 + q]);
        const __m512 y = shuf<0, 1, 2, 3, 1, 3, 5, 7>(u[8 + q], u[12 + q]);
        r[q] = shuf<0, 1, 2, 3, 0, 2, 4, 6>(v, x);
        r[4 + q] = shuf<0, 1, 2, 3, 0, 2, 4, 6>(w, y);
        r[8 + q] = shuf<0, 1, 2, 3, 1, 3, 5, 7>(v, x);
        r[12 + q] = shuf<0, 1, 2, 3, 1, 3, 5, 7>(w, y);
    }
}

// panel[kk * 32 + r] = w[r * ldw + kk] for r < nr (<= 32), zero for the rows past nr.
static RL_AVX512_TARGET void pack_panel(const float* w, int64_t ldw, int nr, int64_t k, float* panel) {
    for (int h = 0; h < 2; ++h) {  // rows 16h .. 16h+15: the h-th vector of each kk
        const int rows = std::clamp(nr - 16 * h, 0, 16);
        const float* src = w + 16 * h * ldw;
        float* dst = panel + 16 * h;
        int64_t kk = 0;
        for (; kk + 16 <= k; kk += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(src + i * ldw + kk) : _mm512_setzero_ps();
            transpose16(r);
            for (int i = 0; i < 16; ++i) _mm512_store_ps(dst + (kk + i) * kPanel, r[i]);
        }
        for (; kk < k; ++kk)
            for (int i = 0; i < 16; ++i) dst[kk * kPanel + i] = i < rows ? src[i * ldw + kk] : 0.f;
    }
}

// out[i * ldo + c] = x[i] . panel[..][c] for R rows and the columns in masks m0, m1.
template <int R>
static inline __attribute__((always_inline)) RL_AVX512_TARGET void
gemm_tile(const float* x, int64_t ldx, const float* panel, int64_t k, float* out, int64_t ldo, __mmask16 m0,
          __mmask16 m1) {
    __m512 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t kk = 0; kk < k; ++kk) {
        const __m512 w0 = _mm512_load_ps(panel + kk * kPanel), w1 = _mm512_load_ps(panel + kk * kPanel + 16);
        for (int r = 0; r < R; ++r) {
            const __m512 xb = _mm512_set1_ps(x[r * ldx + kk]);
            acc[r][0] = _mm512_fmadd_ps(xb, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(xb, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; ++r) {
        _mm512_mask_storeu_ps(out + r * ldo, m0, acc[r][0]);
        _mm512_mask_storeu_ps(out + r * ldo + 16, m1, acc[r][1]);
    }
}

// out[i * ldo + c] = x[i] . w[c] for x [n, k] and the nc (<= 32) weight rows packed in panel.
static RL_AVX512_TARGET void gemm_panel(const float* x, int64_t n, int64_t k, const float* panel, int nc, float* out,
                                        int64_t ldo) {
    const __mmask16 m0 = __mmask16(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
    const __mmask16 m1 = __mmask16(nc >= 32 ? 0xFFFF : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
    int64_t i = 0;
    for (; i + kGemmR <= n; i += kGemmR) gemm_tile<kGemmR>(x + i * k, k, panel, k, out + i * ldo, ldo, m0, m1);
    // The rest in tiles of 8, 4, 2, 1 rows: four shapes instead of one per remainder.
    if (n - i >= 8) gemm_tile<8>(x + i * k, k, panel, k, out + i * ldo, ldo, m0, m1), i += 8;
    if (n - i >= 4) gemm_tile<4>(x + i * k, k, panel, k, out + i * ldo, ldo, m0, m1), i += 4;
    if (n - i >= 2) gemm_tile<2>(x + i * k, k, panel, k, out + i * ldo, ldo, m0, m1), i += 2;
    if (n - i >= 1) gemm_tile<1>(x + i * k, k, panel, k, out + i * ldo, ldo, m0, m1);
}

// out[i * ldo + c] = x[i] . w[c] for x [n, k] and mc weight rows w [mc, k]: each group of 32 rows
// is packed into a per-thread panel (k x 32 floats, 64-byte aligned), then multiplied.
static RL_AVX512_TARGET void matmul_cols_packed(const float* x, int64_t n, int64_t k, const float* w, int64_t mc,
                                                float* out, int64_t ldo) {
    thread_local std::vector<float> buf;
    buf.resize(size_t(k * kPanel + 16));
    float* panel = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
    for (int64_t j = 0; j < mc; j += kPanel) {
        const int nc = int(std::min<int64_t>(kPanel, mc - j));
        pack_panel(w + j * k, k, nc, k, panel);
        gemm_panel(x, n, k, panel, nc, out + j, ldo);
    }
}

} // namespace rl::cpu_kernels
#endif
