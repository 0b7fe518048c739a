// cpu_kernels: the hot loops of cpu_backend (register-tiled matmul, paged attention for one
// (row, head)), each compiled twice via target_clones: an AVX2+FMA version picked at load time on
// CPUs that have it, and a baseline one; the matmul has two more on AVX-512, a dot-product tile for
// few rows here and the packed GEMM of cpu_gemm.h for many. Included by cpu_backend.cpp and
// cpu_backend_quant.cpp (internal linkage: each gets its own copy of what it uses).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "backend/cpu_gemm.h"

namespace rl::cpu_kernels {

// The kernels pass 32-byte vectors only between always_inline helpers, so the psABI note about
// AVX argument passing does not apply (GCC reports it at the end of the including file, so the
// pragma stays in force in the including file).
#pragma GCC diagnostic ignored "-Wpsabi"
// Each includer uses only some of the kernels (cpu_backend_quant.cpp no attention), and an unused
// static function would warn; clang refuses the `unused` attribute beside target_clones, so the
// warning is silenced here instead.
#pragma GCC diagnostic ignored "-Wunused-function"
// Unaligned 8-float vector (GCC vector extension); the AVX2 clone turns it into ymm + FMA.
typedef float v8f __attribute__((vector_size(32), aligned(4)));

static inline __attribute__((always_inline)) v8f load8(const float* p) { return *reinterpret_cast<const v8f*>(p); }
static inline __attribute__((always_inline)) float hsum(v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

// out[R, C] = x[R, k] . w[C, k]^T: R x C vector accumulators over k, reduced at the end.
template <int R, int C>
static inline __attribute__((always_inline)) void mm_tile(const float* x, int64_t ldx, const float* w, int64_t ldw,
                                                   int64_t k, float* out, int64_t ldo) {
    v8f acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = v8f{};
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        v8f wv[C];
        for (int c = 0; c < C; ++c) wv[c] = load8(w + c * ldw + kk);
        for (int r = 0; r < R; ++r) {
            const v8f xv = load8(x + r * ldx + kk);
            for (int c = 0; c < C; ++c) acc[r][c] += xv * wv[c];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            float s = hsum(acc[r][c]);
            for (int64_t t = kk; t < k; ++t) s += x[r * ldx + t] * w[c * ldw + t];
            out[r * ldo + c] = s;
        }
}

constexpr int kTileR = 3;    // x rows per tile
constexpr int kTileC = 4;    // w rows per tile (3 x 4 accumulators + 4 w vectors fit 16 ymm)
constexpr int64_t kRowBlock = 48;  // x rows kept hot in cache while a w tile streams over them

template <int C>
static inline __attribute__((always_inline)) void mm_rows(const float* x, int64_t n, int64_t k, const float* w,
                                                   float* out, int64_t ldo) {
    int64_t i = 0;
    for (; i + kTileR <= n; i += kTileR) mm_tile<kTileR, C>(x + i * k, k, w, k, k, out + i * ldo, ldo);
    for (; i < n; ++i) mm_tile<1, C>(x + i * k, k, w, k, k, out + i * ldo, ldo);
}

// out[i * ldo + c] = x[i] . w[c] for x [n, k] and a slice of mc weight rows w [mc, k].
static __attribute__((target_clones("arch=x86-64-v3", "default"))) void
matmul_cols_v3(const float* x, int64_t n, int64_t k, const float* w, int64_t mc, float* out, int64_t ldo) {
    for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
        const int64_t nb = std::min(kRowBlock, n - i0);
        const float* xb = x + i0 * k;
        float* ob = out + i0 * ldo;
        int64_t j = 0;
        for (; j + kTileC <= mc; j += kTileC) mm_rows<kTileC>(xb, nb, k, w + j * k, ob + j, ldo);
        for (; j < mc; ++j) mm_rows<1>(xb, nb, k, w + j * k, ob + j, ldo);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The AVX2 tile with explicit FMAs, for CPUs without AVX-512 (the target_clones version above keeps
// a multiply and an add: the engine builds with -ffp-contract=off for random_uniform.h).
#define RL_AVX2_TARGET __attribute__((target("avx2,fma")))
template <int R, int C>
static inline __attribute__((always_inline)) RL_AVX2_TARGET void
mm_tile_fma(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t k, float* out, int64_t ldo) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m256 wv[C];
        for (int c = 0; c < C; ++c) wv[c] = _mm256_loadu_ps(w + c * ldw + kk);
        for (int r = 0; r < R; ++r) {
            const __m256 xv = _mm256_loadu_ps(x + r * ldx + kk);
            for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            // hsum's order, in this function's own instructions (clang will not pass a 32-byte
            // vector to a helper without AVX).
            float e[4];
            _mm_storeu_ps(e, _mm_add_ps(_mm256_castps256_ps128(acc[r][c]), _mm256_extractf128_ps(acc[r][c], 1)));
            float s = (e[0] + e[1]) + (e[2] + e[3]);
            for (int64_t t = kk; t < k; ++t) s += x[r * ldx + t] * w[c * ldw + t];
            out[r * ldo + c] = s;
        }
}

static RL_AVX2_TARGET void matmul_cols_avx2(const float* x, int64_t n, int64_t k, const float* w, int64_t mc,
                                            float* out, int64_t ldo) {
    for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
        const int64_t nb = std::min(kRowBlock, n - i0);
        const float* xb = x + i0 * k;
        float* ob = out + i0 * ldo;
        int64_t j = 0;
        for (; j + kTileC <= mc; j += kTileC) {
            int64_t i = 0;
            for (; i + kTileR <= nb; i += kTileR)
                mm_tile_fma<kTileR, kTileC>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
            for (; i < nb; ++i) mm_tile_fma<1, kTileC>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
        }
        for (; j < mc; ++j)
            for (int64_t i = 0; i < nb; ++i) mm_tile_fma<1, 1>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
    }
}

// RIDGELINE_CPU_ISA=scalar turns it off (cpu_quant.h's cap, for comparisons).
static bool has_avx2_fma() {
    static const bool yes = [] {
        if (const char* e = std::getenv("RIDGELINE_CPU_ISA"); e && std::string_view(e) == "scalar") return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return yes;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// The same product on 16-float vectors for CPUs with AVX-512: twice the multiply-adds an
// instruction, and 32 registers hold a 4 x 4 tile. (GCC's x86-64-v4 clone of the kernel above
// would keep its 8-float vectors.)
typedef float v16f __attribute__((vector_size(64), aligned(4)));

template <int R, int C>
static inline __attribute__((always_inline)) RL_AVX512_TARGET void
mm_tile16(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t k, float* out, int64_t ldo) {
    v16f acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = v16f{};
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        v16f wv[C];
        for (int c = 0; c < C; ++c) wv[c] = *reinterpret_cast<const v16f*>(w + c * ldw + kk);
        for (int r = 0; r < R; ++r) {
            const v16f xv = *reinterpret_cast<const v16f*>(x + r * ldx + kk);
            // Explicit FMA: the engine builds with -ffp-contract=off (random_uniform.h), so
            // `acc += x * w` would stay a multiply and an add.
            for (int c = 0; c < C; ++c) acc[r][c] = (v16f)_mm512_fmadd_ps((__m512)xv, (__m512)wv[c], (__m512)acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            const v16f a = acc[r][c];
            float s = 0.f;
            for (int t = 0; t < 8; ++t) s += a[t] + a[t + 8];
            for (int64_t t = kk; t < k; ++t) s += x[r * ldx + t] * w[c * ldw + t];
            out[r * ldo + c] = s;
        }
}

static RL_AVX512_TARGET void matmul_cols_v4(const float* x, int64_t n, int64_t k, const float* w, int64_t mc,
                                            float* out, int64_t ldo) {
    constexpr int R = 4, C = 4;   // 16 accumulators, 4 weight vectors and one of x: 21 of 32 zmm
    for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
        const int64_t nb = std::min(kRowBlock, n - i0);
        const float* xb = x + i0 * k;
        float* ob = out + i0 * ldo;
        int64_t j = 0;
        for (; j + C <= mc; j += C) {
            int64_t i = 0;
            for (; i + R <= nb; i += R) mm_tile16<R, C>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
            for (; i < nb; ++i) mm_tile16<1, C>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
        }
        for (; j < mc; ++j)
            for (int64_t i = 0; i < nb; ++i) mm_tile16<1, 1>(xb + i * k, k, w + j * k, k, k, ob + i * ldo + j, ldo);
    }
}

#endif

// Weight rows to hand matmul_cols at a time (every slice but the last a multiple of it): the packed
// GEMM works on panels of 32, the other kernels on tiles of kTileC.
static int64_t matmul_cols_unit(int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_avx512() && n >= kGemmMinRows) return kPanel;
#endif
    return kTileC;
}

static void matmul_cols(const float* x, int64_t n, int64_t k, const float* w, int64_t mc, float* out, int64_t ldo) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_avx512() && n >= kGemmMinRows) return matmul_cols_packed(x, n, k, w, mc, out, ldo);
    if (has_avx512()) return matmul_cols_v4(x, n, k, w, mc, out, ldo);
    if (has_avx2_fma()) return matmul_cols_avx2(x, n, k, w, mc, out, ldo);
#endif
    matmul_cols_v3(x, n, k, w, mc, out, ldo);
}

static inline __attribute__((always_inline)) float dot(const float* a, const float* b, int n) {
    v8f acc = v8f{};
    int i = 0;
    for (; i + 8 <= n; i += 8) acc += load8(a + i) * load8(b + i);
    float s = hsum(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

struct attn_args {
    const float* q;          // [n, n_heads*head_dim]
    float* out;              // same shape
    const float* k_pool;     // this layer: [num_blocks, block_size, n_kv_heads, head_dim]
    const float* v_pool;
    int n_heads, n_kv_heads, head_dim, block_size;
    float scale;
};

// One (query row, head): softmax(q . K[j0..ctx)^T * scale) . V, reading K/V through the block
// table (j0 > 0: a sliding window); scores is indexed by position.
static __attribute__((target_clones("arch=x86-64-v3", "default"))) void
attend_one(const attn_args& a, int64_t row, int head, int j0, int ctx, const int32_t* block_table, float* scores) {
    const int hd = a.head_dim;
    const int g = head / (a.n_heads / a.n_kv_heads);  // GQA: consecutive q heads share a kv head
    const int64_t tok_stride = int64_t(a.n_kv_heads) * hd;
    const int64_t blk_stride = tok_stride * a.block_size;
    const float* q = a.q + row * int64_t(a.n_heads) * hd + int64_t(head) * hd;
    float mx = -INFINITY;
    for (int j = j0; j < ctx; ++j) {
        const float* kr = a.k_pool + block_table[j / a.block_size] * blk_stride + (j % a.block_size) * tok_stride + g * hd;
        scores[j] = dot(q, kr, hd) * a.scale;
        mx = std::max(mx, scores[j]);
    }
    double sum = 0.0;
    for (int j = j0; j < ctx; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
    }
    const float inv = float(1.0 / sum);
    float* o = a.out + row * int64_t(a.n_heads) * hd + int64_t(head) * hd;
    for (int d = 0; d < hd; ++d) o[d] = 0.f;
    for (int j = j0; j < ctx; ++j) {
        const float* vr = a.v_pool + block_table[j / a.block_size] * blk_stride + (j % a.block_size) * tok_stride + g * hd;
        const float p = scores[j] * inv;
        for (int d = 0; d < hd; ++d) o[d] += p * vr[d];
    }
}

} // namespace rl::cpu_kernels
