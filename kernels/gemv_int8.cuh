// gemv_int8.cuh: the x side of the GEMV's int8 path (block-format weights, gemv_kernel.cuh with
// I8): each CTA quantizes its n rows of x once into q8 blocks in shared memory (from the bf16 x,
// or from the f32 residual through the norm prologue), and each lane then reads, per weight unit,
// the x blocks that unit covers (quant_dot.cuh does the products). One pass per CTA instead of a
// separate quantize kernel: a decode step would need four more launches per layer, and at batch 1
// the launches are a large part of a step.
// Layout of one row's region (i8_row_bytes(k) bytes, 16-aligned): the int8 values as uint4 pairs,
// pair (t, half) of unit u at uint4 index (2t + half) * n_units + u, then the (d, s) float2 of
// block t of unit u at index t * n_units + u. Consecutive lanes take consecutive units, so each
// warp-wide shared load is one contiguous run: no bank conflicts.
#pragma once
#include "gemv_parts.cuh"
#include "quant_dot.cuh"

namespace rl::kernels {

/// Bytes of shared memory one x row takes on the int8 path: k int8 values and k / 32 float2.
__host__ __device__ constexpr int64_t i8_row_bytes(int64_t k) { return (k + k / 4 + 15) / 16 * 16; }

/// The most dynamic shared memory an int8 GEMV may ask for on the current device: the per-block
/// opt-in limit less room for the kernel's static arrays (read once per process).
int64_t gemv_int8_smem_max();

namespace {

// Quantizes block b (elements [32b, 32b + 32)) of row i into the row's region at xr.
template <class Q, bool Norm>
__device__ __forceinline__ void quantize_block(const gemv_params& p, int i, int b, float inv, uint8_t* xr) {
    float v[32];
#pragma unroll
    for (int c = 0; c < 4; ++c) {
        float e8[8];
        if constexpr (Norm) norm8(p, i, 32 * b + 8 * c, inv, e8);
        else widen8_bf16(*reinterpret_cast<const uint4*>(p.x + int64_t(i) * p.k + 32 * b + 8 * c), e8);
#pragma unroll
        for (int e = 0; e < 8; ++e) v[8 * c + e] = e8[e];
    }
    float amax = 0.f;
#pragma unroll
    for (int e = 0; e < 32; ++e) amax = fmaxf(amax, fabsf(v[e]));
    const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
    uint32_t w[8];
    int sum = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        uint32_t word = 0;
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int q = __float2int_rn(v[4 * j + e] * id);
            sum += q;
            word |= uint32_t(q & 0xFF) << (8 * e);
        }
        w[j] = word;
    }
    constexpr int ub = Q::unit_elems / 32;
    const int n_units = p.k / Q::unit_elems, u = b / ub, t = b % ub;
    uint4* xq = reinterpret_cast<uint4*>(xr);
    xq[(2 * t) * n_units + u] = make_uint4(w[0], w[1], w[2], w[3]);
    xq[(2 * t + 1) * n_units + u] = make_uint4(w[4], w[5], w[6], w[7]);
    reinterpret_cast<float2*>(xr + p.k)[t * n_units + u] = make_float2(d, d * float(sum));
}

// Every row of x into q8 blocks in xs (rows i8_row_bytes(k) apart). Called by all threads of the
// CTA (one or two barriers).
template <class Q, int N, int W, bool Norm>
__device__ void quantize_rows(const gemv_params& p, uint8_t* xs) {
    __shared__ float red[Norm ? N : 1][W];
    if constexpr (Norm) norm_partials<N, W>(p, red);
    const int nb = p.k / 32;
    for (int idx = threadIdx.x; idx < p.n * nb; idx += W * 32) {
        const int i = idx / nb;
        const float inv = Norm ? norm_inv<W>(p, red[i]) : 1.f;
        quantize_block<Q, Norm>(p, i, idx % nb, inv, xs + int64_t(i) * i8_row_bytes(p.k));
    }
    __syncthreads();
}

// The x blocks under unit u of row region xr.
template <class Q>
__device__ __forceinline__ qf::x_q8<Q::unit_elems / 32> load_x_unit(const uint8_t* xr, int k, int u) {
    constexpr int ub = Q::unit_elems / 32;
    const int n_units = k / Q::unit_elems;
    const uint4* xq = reinterpret_cast<const uint4*>(xr);
    const float2* ds = reinterpret_cast<const float2*>(xr + k);
    qf::x_q8<ub> x;
#pragma unroll
    for (int t = 0; t < ub; ++t) {
        const uint4 a = xq[(2 * t) * n_units + u], b = xq[(2 * t + 1) * n_units + u];
        x.q[t][0] = int(a.x), x.q[t][1] = int(a.y), x.q[t][2] = int(a.z), x.q[t][3] = int(a.w);
        x.q[t][4] = int(b.x), x.q[t][5] = int(b.y), x.q[t][6] = int(b.z), x.q[t][7] = int(b.w);
        x.ds[t] = ds[t * n_units + u];
    }
    return x;
}

} // namespace
} // namespace rl::kernels
