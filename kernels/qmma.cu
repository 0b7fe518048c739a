// qmma.cu: the host side of the fused quantized GEMM (qmma.h): argument checks, the grid and its
// split-K plan, the workspace size, and the dispatch to the per-format kernels (qmma_kernel.cuh,
// instantiated by qmma_legacy.cu and qmma_k.cu).
// Split-K: a 64 x 64 output tile per CTA leaves most SMs idle at the shapes this kernel is for
// (M = 64, N = 4096: 64 CTAs), and a CTA's weight stream is bounded by the bytes it has in
// flight, so the k tiles are split over S CTAs per output tile until the grid has about two CTAs
// per SM (two fit at once). The price is S fp32 partial tiles written and read back through L2.
#include "qmma.h"
#include "qmma_kernel.cuh"

#include <algorithm>
#include <atomic>
#include <climits>
#include <string>

namespace rl::kernels {

// Built by qmma_legacy.cu and qmma_k.cu, not here.
extern template void qmma_launch<qf::q8_0>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q4_0>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q4_1>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q5_0>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q5_1>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q4_k>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q5_k>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::q6_k>(const qmma_params&, dim3, cudaStream_t);
extern template void qmma_launch<qf::bf16>(const qmma_params&, dim3, cudaStream_t);

namespace {

using namespace qmma_cfg;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// SMs of the current device, asked once per device (benign race: every writer stores the same).
int sm_count() {
    constexpr int max_devices = 64;
    static std::atomic<int> known[max_devices] = {};
    int dev = 0;
    RL_CUDA_CHECK(cudaGetDevice(&dev));
    if (dev < 0 || dev >= max_devices) {
        int n = 0;
        RL_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
        return std::max(n, 1);
    }
    int n = known[dev].load(std::memory_order_relaxed);
    if (n == 0) {
        RL_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
        n = std::max(n, 1);
        known[dev].store(n, std::memory_order_relaxed);
    }
    return n;
}

// The split asked for by an output grid of `tiles` CTAs over k_tiles: about 2 CTAs per SM.
int64_t wanted_splits(int64_t tiles, int64_t k_tiles, int sms) {
    return std::clamp<int64_t>(ceil_div(2 * int64_t(sms), tiles), 1, std::min<int64_t>(k_tiles, 65535));
}

struct plan {
    int64_t tiles_n, tiles_m, k_tiles, kt_per, splits;
};

plan plan_of(int64_t M, int64_t N, int64_t K) {
    plan p{};
    p.tiles_n = ceil_div(N, bn);
    p.tiles_m = ceil_div(M, bm);
    p.k_tiles = ceil_div(K, bk);
    const int64_t s = wanted_splits(p.tiles_n * p.tiles_m, p.k_tiles, sm_count());
    p.kt_per = ceil_div(p.k_tiles, s);
    p.splits = ceil_div(p.k_tiles, p.kt_per);  // no empty split (every CTA must arrive)
    return p;
}

// The counters lead the workspace (their offset does not depend on the split), one per output
// tile, padded so the partials start 256-byte aligned.
size_t counter_bytes(int64_t tiles) { return size_t(ceil_div(tiles * int64_t(sizeof(int)), 256) * 256); }

size_t workspace_of(const plan& p, int64_t M, int64_t N) {
    if (p.splits <= 1) return 0;
    return counter_bytes(p.tiles_n * p.tiles_m) + size_t(p.splits) * size_t(M) * size_t(N) * sizeof(float);
}

bool fits_int(int64_t v) { return v > 0 && v <= INT_MAX; }

} // namespace

bool qmma_supported(ggml_type w_type, int64_t M, int64_t N, int64_t K) {
    int64_t block = 0;
    if (!with_format(w_type, [&](auto q) { block = decltype(q)::block_elems; })) return false;
    return fits_int(M) && fits_int(N) && fits_int(K) && K % block == 0 && K % 8 == 0 && ceil_div(M, bm) <= 65535;
}

size_t qmma_workspace_bytes(int64_t M, int64_t N, int64_t K) {
    if (!fits_int(M) || !fits_int(N) || !fits_int(K)) return 0;
    // The largest need over every smaller shape: for each tile grid (tm, tn) the split is largest
    // at the full K and the partials largest at the most rows and columns that grid holds. The
    // split of (M', N', K') is at most its wanted_splits (the plan only ever lowers it).
    const int sms = sm_count();
    const int64_t tm_max = ceil_div(M, bm), tn_max = ceil_div(N, bn), kt = ceil_div(K, bk);
    size_t most = 0;
    for (int64_t tm = 1; tm <= tm_max; ++tm) {
        if (2 * int64_t(sms) <= tm) break;  // from here on no split (and none at more tiles)
        for (int64_t tn = 1; tn <= tn_max; ++tn) {
            const int64_t s = wanted_splits(tm * tn, kt, sms);
            if (s <= 1) break;  // nor at more columns
            const int64_t rows = std::min(M, tm * bm), cols = std::min(N, tn * bn);
            most = std::max(most, counter_bytes(tm_max * tn_max) + size_t(s) * size_t(rows) * size_t(cols) * sizeof(float));
        }
    }
    return most;
}

void qmma(ggml_type w_type, const uint16_t* x, const void* w, void* out, bool out_f32, int64_t M, int64_t N,
          int64_t K, void* workspace, size_t workspace_bytes, rl_stream stream) {
    RL_CHECK(qmma_supported(w_type, M, N, K),
             "qmma: unsupported product: " + ggml_type_name(w_type) + " weights, M " + std::to_string(M) + " N " +
                 std::to_string(N) + " K " + std::to_string(K) + " (K must be whole blocks and a multiple of 8)");
    RL_CHECK(x && w && out, "qmma: null pointer");
    RL_CHECK(aligned16(x) && aligned16(w), "qmma: x and w must be 16-byte aligned");
    RL_CHECK((reinterpret_cast<uintptr_t>(out) & (out_f32 ? 7u : 3u)) == 0, "qmma: out must be 8-byte (f32) or 4-byte (bf16) aligned");
    const plan pl = plan_of(M, N, K);
    const size_t need = workspace_of(pl, M, N);
    RL_CHECK(need == 0 || (workspace && workspace_bytes >= need),
             "qmma: workspace of " + std::to_string(workspace_bytes) + " bytes, this product needs " +
                 std::to_string(need) + " (qmma_workspace_bytes)");
    RL_CHECK(workspace == nullptr || aligned16(workspace), "qmma: workspace must be 16-byte aligned");

    qmma_params p{};
    p.x = x;
    p.w = static_cast<const uint8_t*>(w);
    p.out = out;
    if (need > 0) {
        p.counters = static_cast<int*>(workspace);
        p.part = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) + counter_bytes(pl.tiles_n * pl.tiles_m));
    }
    p.m = int(M), p.n = int(N), p.k = int(K);
    p.kt_per = int(pl.kt_per);
    p.splits = int(pl.splits);
    p.out_f32 = out_f32 ? 1 : 0;
    const dim3 grid{unsigned(pl.tiles_n), unsigned(pl.tiles_m), unsigned(pl.splits)};
    with_format(w_type, [&](auto q) { qmma_launch<decltype(q)>(p, grid, stream); });
}

} // namespace rl::kernels
