// gemv.cu: decode's skinny matmuls, out_s[n, m_s] = x[n, k] . w_s[m_s, k]^T for n <= 8 rows and up
// to three weight matrices s that share x (q, k and v; gate and up): one launch instead of three
// cuBLASLt GEMMs plus their split-K reductions. bf16 operands, fp32 accumulation, bf16 or f32
// out. In GLU mode (gate and up) one warp computes row j of both and writes only
// bf16(silu(gate) * up), from the bf16-rounded gate and up exactly as silu_mul would: the
// activation kernel and the gate/up round trip through memory go away. (An earlier version
// fused silu into the down projection's input instead: that recomputes silu m times per input
// value, ~58 M expf per Llama-3-8B layer, and was slower than cuBLASLt there.)
// At small n the product is a stream over the weights, each byte read once: one warp per R
// consecutive output rows; each lane loads 16-byte chunks of those R rows (U*R chunks in flight,
// through the non-allocating L1 path, so x stays cached) and dots them with the n rows of x.
// R > 1 at larger n amortises each x chunk (load and convert) over R weight chunks; the FMAs
// (n per weight) are what limits n = 8. Needs k % 8 == 0 and 16-byte aligned x and w.
// Exercised by tests/test_gpu_fused.cpp; the dispatch (which n go here) is in gemm.cpp.
#include "bf16_vec.cuh"
#include "launch.cuh"
#include "kernels.h"

namespace rl::kernels {
namespace {

constexpr int warps = 4;
static_assert(gemv_max_segments == 3, "gemv_kernel selects among three segments");

struct gemv_params {
    const uint16_t* w[gemv_max_segments];
    void* out[gemv_max_segments];
    int m_end[gemv_max_segments];  // exclusive end of each segment in the concatenated rows
    int n_seg;
    const uint16_t* x;
    uint16_t* glu_out;  // GLU mode: [n, m] bf16(silu(gate) * up)
    int n, k;
};

__device__ __forceinline__ uint4 ld_stream(const uint16_t* p) {
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}

__device__ __forceinline__ void widen(const uint4 raw, float (&v)[8]) {
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
    }
}

template <int N, int R, int U, bool Glu, bool OutF32>
__global__ void __launch_bounds__(warps * 32) gemv_kernel(const gemv_params p) {
    pdl_wait();
    pdl_trigger();
    const int lane = threadIdx.x % 32;
    const int warp_id = int(blockIdx.x) * warps + int(threadIdx.x) / 32;
    const uint16_t* wr[R];
    void* orow[R];
    int ocol[R], om[R];
    if constexpr (Glu) {
        static_assert(R == 2, "GLU mode pairs row j of gate with row j of up");
        const int m = p.m_end[0];
        if (warp_id >= m) return;
        wr[0] = p.w[0] + int64_t(warp_id) * p.k;
        wr[1] = p.w[1] + int64_t(warp_id) * p.k;
    } else {
        const int j0 = warp_id * R;
        const int m_total = p.m_end[gemv_max_segments - 1];  // the host repeats the last end
        if (j0 >= m_total) return;
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const int j = j0 + r;
            wr[r] = nullptr;
            if (j >= m_total) continue;
            // Selects instead of p.w[s]: a dynamic index would copy the parameters to local memory.
            const bool s1 = j >= p.m_end[0], s2 = j >= p.m_end[1] && p.n_seg > 2;
            const int begin = s2 ? p.m_end[1] : s1 ? p.m_end[0] : 0;
            const int end = s2 ? p.m_end[2] : s1 ? p.m_end[1] : p.m_end[0];
            wr[r] = (s2 ? p.w[2] : s1 ? p.w[1] : p.w[0]) + int64_t(j - begin) * p.k;
            orow[r] = s2 ? p.out[2] : s1 ? p.out[1] : p.out[0];
            ocol[r] = j - begin;
            om[r] = end - begin;
        }
    }
    float acc[R][N];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < N; ++i) acc[r][i] = 0.f;

    for (int c0 = lane * 8; c0 < p.k; c0 += 32 * 8 * U) {
        uint4 raw[U][R];
#pragma unroll
        for (int u = 0; u < U; ++u)
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const int c = c0 + u * 32 * 8;
                raw[u][r] = (c < p.k && wr[r]) ? ld_stream(wr[r] + c) : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * 32 * 8;
            if (c >= p.k) break;
            float wf[R][8];
#pragma unroll
            for (int r = 0; r < R; ++r) widen(raw[u][r], wf[r]);
#pragma unroll
            for (int i = 0; i < N; ++i) {
                if (i >= p.n) break;
                float xf[8];
                widen(__ldg(reinterpret_cast<const uint4*>(p.x + int64_t(i) * p.k + c)), xf);
#pragma unroll
                for (int r = 0; r < R; ++r)
#pragma unroll
                    for (int e = 0; e < 8; ++e) acc[r][i] = fmaf(xf[e], wf[r][e], acc[r][i]);
            }
        }
    }
    if constexpr (Glu) {
        const int m = p.m_end[0];
#pragma unroll
        for (int i = 0; i < N; ++i) {
            if (i >= p.n) break;
            const float g = bf16_to_f32(f32_to_bf16(warp_sum(acc[0][i])));
            const float u = bf16_to_f32(f32_to_bf16(warp_sum(acc[1][i])));
            if (lane == 0) p.glu_out[int64_t(i) * m + warp_id] = f32_to_bf16(g / (1.f + __expf(-g)) * u);
        }
    } else {
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int i = 0; i < N; ++i) {
                if (i >= p.n) break;
                const float s = warp_sum(acc[r][i]);
                if (lane == 0 && wr[r]) {
                    const int64_t o = int64_t(i) * om[r] + ocol[r];
                    if constexpr (OutF32) static_cast<float*>(orow[r])[o] = s;
                    else static_cast<uint16_t*>(orow[r])[o] = f32_to_bf16(s);
                }
            }
    }
}

template <int N, int R, int U>
void launch_n(const gemv_params& p, bool out_f32, cudaStream_t s) {
    const int m_total = p.m_end[gemv_max_segments - 1];
    const unsigned grid = unsigned((m_total + warps * R - 1) / (warps * R));
    if (out_f32) launch(gemv_kernel<N, R, U, false, true>, grid, warps * 32, 0, s, p);
    else launch(gemv_kernel<N, R, U, false, false>, grid, warps * 32, 0, s, p);
}

template <int N, int U>
void launch_glu(const gemv_params& p, cudaStream_t s) {
    const unsigned grid = unsigned((p.m_end[0] + warps - 1) / warps);
    launch(gemv_kernel<N, 2, U, true, false>, grid, warps * 32, 0, s, p);
}

} // namespace

bool gemv_bf16_supported(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool glu) {
    if (!x || !segs || n < 1 || n > gemv_max_rows || n_seg < 1 || n_seg > gemv_max_segments) return false;
    if (k <= 0 || k % 8 != 0 || k >= (int64_t(1) << 30) || !aligned16(x)) return false;
    if (glu && (n_seg != 2 || segs[0].m != segs[1].m)) return false;
    int64_t m_total = 0;
    for (int s = 0; s < n_seg; ++s) {
        if (!segs[s].w || (!glu && !segs[s].out) || segs[s].m <= 0 || !aligned16(segs[s].w)) return false;
        m_total += segs[s].m;
    }
    return m_total < (int64_t(1) << 30);
}

void gemv_bf16(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool out_f32,
               rl_stream stream, uint16_t* glu_out) {
    RL_CHECK(gemv_bf16_supported(x, segs, n_seg, n, k, glu_out != nullptr),
             "gemv_bf16: unsupported shape or alignment (n " + std::to_string(n) + ", k " + std::to_string(k) + ")");
    gemv_params p{};
    int end = 0;
    for (int s = 0; s < n_seg; ++s) {
        p.w[s] = segs[s].w;
        p.out[s] = segs[s].out;
        end += int(segs[s].m);
        p.m_end[s] = end;
    }
    for (int s = n_seg; s < gemv_max_segments; ++s) p.m_end[s] = end;  // empty trailing segments
    p.n_seg = n_seg;
    p.x = x;
    p.glu_out = glu_out;
    p.n = int(n);
    p.k = int(k);
    if (glu_out) {
        if (n == 1) launch_glu<1, 2>(p, stream);
        else if (n == 2) launch_glu<2, 2>(p, stream);
        else if (n <= 4) launch_glu<4, 2>(p, stream);
        else launch_glu<8, 1>(p, stream);
    } else if (n == 1) launch_n<1, 2, 2>(p, out_f32, stream);  // two rows per warp: 4.1 TB/s vs 2.8 with one (ncu, H200)
    else if (n == 2) launch_n<2, 2, 2>(p, out_f32, stream);
    else if (n <= 4) launch_n<4, 2, 2>(p, out_f32, stream);
    else launch_n<8, 4, 1>(p, out_f32, stream);
}

} // namespace rl::kernels
