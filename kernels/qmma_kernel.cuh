// qmma_kernel.cuh: the fused quantized GEMM kernel of qmma.h as a template over the weight format
// Q (quant_formats.cuh), built once per format by qmma_legacy.cu and qmma_k.cu so the formats
// compile in parallel; qmma.cu plans the grid and dispatches.
//
// One CTA of 8 warps computes a 64 x 64 output tile (64 rows of x, 64 weight rows) over a
// contiguous range of k tiles of 256 (one K-quant block, 8 blocks of the 32-element formats):
//   - W tile: each thread loads its units with Q::load into registers, decodes them with Q::piece
//     and stores them as bf16 rows [n][k] in shared memory. [n][k] row-major is the "col" operand
//     of mma.row.col, so B fragments come from plain ldmatrix. The k-tile after the current one is
//     loaded into registers before the current one is multiplied, so its HBM latency overlaps the
//     MMAs; it is decoded after them (one W buffer: three tiles would not leave room for two CTAs
//     per SM).
//   - x tile: cp.async, double-buffered, zero-filled past K (0 * a garbage NaN would be NaN).
//   - MMA: warp (wm, wn) = (warp % 4, warp / 4) owns rows 16 wm .. +16 and columns 32 wn .. +32:
//     one A ldmatrix and two B ldmatrix feed 4 m16n8k16 MMAs per 16 k. A warp whose rows are all
//     past M skips its MMAs (it still loads and decodes), so small batches cost little compute.
//   - Shared rows are padded to 264 elements (33 16-byte chunks: ldmatrix's 8 row addresses hit 8
//     bank groups), and the 16-byte chunk c of a W row is stored at swz(c) = c ^ ((c >> 2) & 7):
//     the decoding threads of one store phase write chunks 4 (32-element units), 8 (q4_k, q5_k)
//     or 16 (q6_k) apart, which the padding alone leaves 2-4 way conflicted. Swizzling within a
//     row keeps ldmatrix conflict-free (its 8 rows read the same chunk).
//   - Split-K (blockIdx.z of S > 1): each CTA writes its fp32 partial tile to the workspace, and
//     the last of the S CTAs of a tile to arrive (a counter per tile) adds the S partials in a
//     fixed order (deterministic) and writes the output, then resets the counter to zero.
#pragma once
#include "bf16_vec.cuh"
#include "common.cuh"
#include "launch.cuh"
#include "mma.cuh"
#include "quant_formats.cuh"

#include <type_traits>

namespace rl::kernels {

namespace qmma_cfg {
constexpr int bm = 64, bn = 64, bk = 256;  // CTA tile: x rows, weight rows, k per step
constexpr int warps = 8, threads = warps * 32;
constexpr int ld = bk + 8;                    // shared row stride in elements (33 chunks)
constexpr int tile_elems = bm * ld;           // one x tile (and the W tile: bn == bm)
constexpr size_t smem_bytes = 3 * size_t(tile_elems) * sizeof(uint16_t);  // W, 2 x
static_assert(bm == bn && bm == 16 * (warps / 2) && bn == 32 * 2, "warp grid 4 x 2 of 16 x 32");
} // namespace qmma_cfg

struct qmma_params {
    const uint16_t* x;
    const uint8_t* w;
    void* out;
    int* counters;  // [tiles] per output tile (split only)
    float* part;    // [S][M][N] (split only)
    int m, n, k;
    int kt_per;     // k tiles per split
    int splits;
    int out_f32;
};

template <class Q>
void qmma_launch(const qmma_params& p, dim3 grid, cudaStream_t stream);

namespace qmma_detail {
using namespace qmma_cfg;

__device__ __forceinline__ int swz(int c) { return c ^ ((c >> 2) & 7); }

// How a W tile's units spread over the CTA's threads: per_thread units each, or (q6_k's 128
// 128-element units) `split` threads per unit, each decoding 1/split of its pieces.
template <class Q>
struct w_map {
    static constexpr int upr = bk / Q::unit_elems;  // units per tile row
    static constexpr int units = bn * upr;
    static constexpr int per_thread = units >= threads ? units / threads : 1;
    static constexpr int split = units >= threads ? 1 : threads / units;
    static constexpr int pieces = Q::unit_elems / 8 / split;  // 8-element pieces decoded per unit
    static_assert(units % threads == 0 || threads % units == 0, "units spread evenly");
    static_assert(split <= 2, "store_w branches on the half");
};

// Thread tid's j-th unit: tile row n, unit u of the row; consecutive threads take consecutive
// units of a row (coalesced loads). With split > 1 the second group of threads repeats the units.
template <class Q>
__device__ __forceinline__ void unit_of(int tid, int j, int& n, int& u) {
    using M = w_map<Q>;
    const int slot = M::split == 1 ? tid + j * threads : tid % M::units;
    n = slot / M::upr;
    u = slot % M::upr;
}

template <class Q>
__device__ __forceinline__ void load_w(typename Q::raw (&raw)[w_map<Q>::per_thread], const qmma_params& p,
                                       int64_t row_bytes, int n0, int kt) {
    using M = w_map<Q>;
    // Unit j of this thread is rows_apart * j rows below unit 0, in the same column: one row
    // pointer and one column check, not per_thread of each held across the loop.
    constexpr int rows_apart = threads / M::upr;
    int n, u;
    unit_of<Q>(int(threadIdx.x), 0, n, u);
    const bool k_ok = kt * bk + u * Q::unit_elems < p.k;
    const uint8_t* row = p.w + int64_t(n0 + n) * row_bytes;
#pragma unroll
    for (int j = 0; j < M::per_thread; ++j) {
        const bool ok = k_ok && n0 + n + rows_apart * j < p.n;
        raw[j] = ok ? Q::load(row + int64_t(rows_apart * j) * row_bytes, kt * M::upr + u) : Q::zero();
    }
}

// Pieces [P0, P0 + NP) of one unit, rounded to bf16, into its swizzled chunks of row `row`.
template <class Q, int P0, int NP>
__device__ __forceinline__ void store_pieces(uint16_t* row, const typename Q::raw& r, int u) {
#pragma unroll
    for (int p = P0; p < P0 + NP; ++p) {
        const int c = u * (Q::unit_elems / 8) + p;
        uint4 v;
        if constexpr (std::is_same_v<Q, qf::bf16>) {
            v = r;  // already bf16
        } else {
            float f[8];
            Q::piece(r, p, f);
            v = make_uint4(pack_bf16x2(f[0], f[1]), pack_bf16x2(f[2], f[3]), pack_bf16x2(f[4], f[5]),
                           pack_bf16x2(f[6], f[7]));
        }
        *reinterpret_cast<uint4*>(row + swz(c) * 8) = v;
    }
}

template <class Q>
__device__ __forceinline__ void store_w(uint16_t* w_s, const typename Q::raw (&raw)[w_map<Q>::per_thread]) {
    using M = w_map<Q>;
#pragma unroll
    for (int j = 0; j < M::per_thread; ++j) {
        int n, u;
        unit_of<Q>(int(threadIdx.x), j, n, u);
        uint16_t* row = w_s + n * ld;
        if constexpr (M::split == 1) {
            store_pieces<Q, 0, M::pieces>(row, raw[j], u);
        } else if (int(threadIdx.x) < M::units) {  // warp-uniform (units is a multiple of 32)
            store_pieces<Q, 0, M::pieces>(row, raw[j], u);
        } else {
            store_pieces<Q, M::pieces, M::pieces>(row, raw[j], u);
        }
    }
}

// x rows [m0, m0 + rows) of k tile kt into x_s, zeros past M and K. rows is M's remainder
// rounded up to whole 16-row warp tiles: rows past it belong to warps that skip their MMAs.
__device__ __forceinline__ void load_x(uint16_t* x_s, const qmma_params& p, int m0, int rows, int kt) {
    constexpr int chunks = bk / 8;
    for (int i = int(threadIdx.x); i < rows * chunks; i += threads) {
        const int r = i / chunks, c = i % chunks, k = kt * bk + c * 8;
        const bool ok = m0 + r < p.m && k < p.k;  // K % 8 == 0: a chunk is all in or all out
        cp_async16(x_s + r * ld + c * 8, ok ? p.x + int64_t(m0 + r) * p.k + k : p.x, ok ? 16 : 0);
    }
}

// Two adjacent outputs (row, col), (row, col + 1); col + 1 may be past N.
__device__ __forceinline__ void store_out(const qmma_params& p, int row, int col, float v0, float v1) {
    if (row >= p.m || col >= p.n) return;
    const int64_t i = int64_t(row) * p.n + col;
    const bool pair = col + 1 < p.n && (p.n & 1) == 0;  // even N: i is even, the pair aligned
    if (p.out_f32) {
        float* o = static_cast<float*>(p.out) + i;
        if (pair) *reinterpret_cast<float2*>(o) = make_float2(v0, v1);
        else {
            o[0] = v0;
            if (col + 1 < p.n) o[1] = v1;
        }
    } else {
        uint16_t* o = static_cast<uint16_t*>(p.out) + i;
        if (pair) *reinterpret_cast<uint32_t*>(o) = pack_bf16x2(v0, v1);
        else {
            o[0] = f32_to_bf16(v0);
            if (col + 1 < p.n) o[1] = f32_to_bf16(v1);
        }
    }
}

} // namespace qmma_detail

template <class Q>
__global__ void __launch_bounds__(qmma_cfg::threads, 2) qmma_kernel(const qmma_params p) {
    using namespace qmma_cfg;
    using namespace qmma_detail;
    extern __shared__ uint4 qmma_smem[];
    uint16_t* w_s = reinterpret_cast<uint16_t*>(qmma_smem);  // [bn][ld], chunks swizzled
    uint16_t* x_s = w_s + tile_elems;                         // [2][bm][ld]

    const int n0 = int(blockIdx.x) * bn, m0 = int(blockIdx.y) * bm, z = int(blockIdx.z);
    const int k_tiles = (p.k + bk - 1) / bk;
    const int kt0 = z * p.kt_per, kt1 = min(k_tiles, kt0 + p.kt_per);  // non-empty (the host's plan)
    const int64_t row_bytes = int64_t(p.k / Q::block_elems) * Q::block_bytes;
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    const int wm = warp % 4, wn = warp / 4;
    const int x_rows = min(bm, (p.m - m0 + 15) / 16 * 16);
    const bool mma_rows = m0 + 16 * wm < p.m;  // warp-uniform

    // The first weight tile before waiting for the previous kernel (weights are never written by
    // a kernel); x after.
    typename Q::raw raw[w_map<Q>::per_thread];
    load_w<Q>(raw, p, row_bytes, n0, kt0);
    pdl_wait();
    pdl_trigger();
    load_x(x_s, p, m0, x_rows, kt0);
    cp_async_commit();

    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;

    for (int kt = kt0; kt < kt1; ++kt) {
        const int cur = (kt - kt0) & 1;
        store_w<Q>(w_s, raw);  // waits for tile kt's loads, issued before tile kt-1's MMAs
        if (kt + 1 < kt1) {
            load_w<Q>(raw, p, row_bytes, n0, kt + 1);
            load_x(x_s + (cur ^ 1) * tile_elems, p, m0, x_rows, kt + 1);
        }
        cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning tile kt
        cp_async_wait<1>();
        __syncthreads();
        if (mma_rows) {
            const uint16_t* xa = x_s + cur * tile_elems + (16 * wm + lane % 16) * ld + (lane / 16) * 8;
            const uint16_t* wb = w_s + (32 * wn + (lane / 16) * 8 + lane % 8) * ld;
            const int half = (lane / 8) % 2;
#pragma unroll
            for (int kk = 0; kk < bk / 16; ++kk) {
                uint32_t a[4];
                ldmatrix_x4(a, xa + kk * 16);
                const int c = swz(2 * kk + half) * 8;
#pragma unroll
                for (int np = 0; np < 2; ++np) {
                    uint32_t b[4];
                    ldmatrix_x4(b, wb + np * 16 * ld + c);
                    mma_bf16_16816(acc[2 * np], a, b[0], b[1]);
                    mma_bf16_16816(acc[2 * np + 1], a, b[2], b[3]);
                }
            }
        }
        __syncthreads();  // w_s and this x buffer are refilled next iteration
    }

    // Fragment (nt, e): row 16 wm + g (+8 for e >= 2), column 32 wn + 8 nt + 2 t (+1 for odd e).
    const int g = lane / 4, t4 = lane % 4;
    const int row_a = m0 + 16 * wm + g, col0 = n0 + 32 * wn + 2 * t4;
    if (p.splits == 1) {
        if (!mma_rows) return;
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
            store_out(p, row_a, col0 + 8 * nt, acc[nt][0], acc[nt][1]);
            store_out(p, row_a + 8, col0 + 8 * nt, acc[nt][2], acc[nt][3]);
        }
        return;
    }

    // Split-K: this CTA's partial tile, then the last arrival of the tile's S CTAs merges.
    const int64_t mn = int64_t(p.m) * p.n;
    auto part_at = [&](int s, int row, int col) { return p.part + s * mn + int64_t(row) * p.n + col; };
    if (mma_rows) {
#pragma unroll
        for (int nt = 0; nt < 4; ++nt)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = row_a + 8 * h, col = col0 + 8 * nt;
                if (row >= p.m || col >= p.n) continue;
                float* d = part_at(z, row, col);
                d[0] = acc[nt][2 * h];
                if (col + 1 < p.n) d[1] = acc[nt][2 * h + 1];
            }
    }
    __threadfence();  // the partial is visible device-wide before the arrival is counted
    __syncthreads();
    __shared__ int last;
    const int tile = int(blockIdx.y) * int(gridDim.x) + int(blockIdx.x);
    if (threadIdx.x == 0) last = atomicAdd(&p.counters[tile], 1) == p.splits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();  // acquire: the other CTAs' partials, read past L1 (__ldcg) below
    if (threadIdx.x == 0) p.counters[tile] = 0;  // every arrival is in: ready for the next launch
    if (!mma_rows) return;
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = row_a + 8 * h, col = col0 + 8 * nt;
            if (row >= p.m || col >= p.n) continue;
            const bool two = col + 1 < p.n;
            float v0 = 0.f, v1 = 0.f;
            for (int s = 0; s < p.splits; ++s) {  // fixed order: the sum does not depend on arrivals
                if (s == z) {
                    v0 += acc[nt][2 * h];
                    v1 += acc[nt][2 * h + 1];
                } else {
                    const float* q = part_at(s, row, col);
                    v0 += __ldcg(q);
                    if (two) v1 += __ldcg(q + 1);
                }
            }
            store_out(p, row, col, v0, v1);
        }
}

template <class Q>
void qmma_launch(const qmma_params& p, dim3 grid, cudaStream_t stream) {
    // Above 48 KB a kernel must opt in (per device; cheap to repeat). Ask for the largest shared
    // carveout so two CTAs fit an SM.
    RL_CUDA_CHECK(cudaFuncSetAttribute(qmma_kernel<Q>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(qmma_cfg::smem_bytes)));
    RL_CUDA_CHECK(cudaFuncSetAttribute(qmma_kernel<Q>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
    launch(qmma_kernel<Q>, grid, dim3{unsigned(qmma_cfg::threads)}, qmma_cfg::smem_bytes, stream, p);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
