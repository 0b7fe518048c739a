// attention_decode.cu: paged attention for single-token rows (decode). One CTA per (row, kv head,
// chunk of up to 8 query heads of that kv head's GQA group), so each K/V row is read once for
// the whole group. 4 warps split the context into 32-key tiles (warp w takes tiles w, w+4, ...);
// within a tile lane j scores key j against every head of the group (q in shared memory,
// pre-scaled by scale*log2(e) so exp2 gives the softmax), the warp keeps an online softmax
// (running max m, sum l, output o with lane owning dims lane, lane+32, ...), and at the end the
// 4 warps' partial states are merged through shared memory. No score matrix is materialised.
// Split-K over long contexts (more CTAs per row) is a later optimisation.
// Exercised by tests/test_gpu_kernels.cpp (decode and mixed steps, GQA 9:3, 32:8, 16:2).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"

#include <cmath>

namespace rl::kernels {
namespace {

constexpr int n_warps = 4;
constexpr float log2e = 1.4426950408889634f;

// D: head_dim (multiple of 32). GP: query heads per CTA (1, 2, 4 or 8; unused ones are zero).
template <int D, int GP>
__global__ void __launch_bounds__(n_warps * 32)
    attention_decode_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv, step_meta st,
                            const int32_t* __restrict__ rows, int n_heads, int group, float scale_log2) {
    constexpr int dpl = D / 32;  // output dims per lane
    __shared__ float q_s[GP][D];
    __shared__ float red_m[n_warps][GP], red_l[n_warps][GP];
    __shared__ float red_o[n_warps][GP][D];

    const int row = rows[blockIdx.x];
    const int kvh = blockIdx.y;
    const int h_first = kvh * group + int(blockIdx.z) * GP;  // first query head of this CTA
    const int gn = min(GP, group - int(blockIdx.z) * GP);    // heads this CTA writes
    const int seq = st.row_seq[row];
    const int ctx = st.positions[row] + 1;  // causal: keys 0 .. position
    const int32_t* bt = st.block_tables + st.seq_table[seq];
    const int64_t q_stride = int64_t(n_heads) * D;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    for (int i = threadIdx.x; i < GP * D; i += blockDim.x) {
        const int h = i / D, d = i % D;
        q_s[h][d] = h < gn ? bf16_to_f32(q[row * q_stride + int64_t(h_first + h) * D + d]) * scale_log2 : 0.f;
    }
    __syncthreads();

    float m[GP], l[GP], o[GP][dpl];
#pragma unroll
    for (int h = 0; h < GP; ++h) {
        m[h] = -INFINITY;
        l[h] = 0.f;
#pragma unroll
        for (int t = 0; t < dpl; ++t) o[h][t] = 0.f;
    }

    for (int base = warp * 32; base < ctx; base += n_warps * 32) {
        const int j = base + lane;
        const bool valid = j < ctx;
        int slot = 0;  // token slot of key j in the layer's pool (block * block_size + offset)
        float s[GP];
#pragma unroll
        for (int h = 0; h < GP; ++h) s[h] = 0.f;
        if (valid) {
            slot = bt[j / kv.block_size] * kv.block_size + j % kv.block_size;
            const uint16_t* kr = kv.k + int64_t(slot) * tok_stride + int64_t(kvh) * D;
#pragma unroll
            for (int c = 0; c < D; c += 8) {
                float kf[8];
                load8_bf16(kr + c, kf);
#pragma unroll
                for (int h = 0; h < GP; ++h)
#pragma unroll
                    for (int e = 0; e < 8; ++e) s[h] += q_s[h][c + e] * kf[e];
            }
        }
        // Online softmax update. Lane 0 of every tile is a valid key, so m_new is finite and
        // exp2(-inf - m_new) == 0 covers both the first tile and the invalid lanes.
        float p[GP];
#pragma unroll
        for (int h = 0; h < GP; ++h) {
            const float sv = valid ? s[h] : -INFINITY;
            const float m_new = fmaxf(m[h], warp_max(sv));
            const float alpha = exp2f(m[h] - m_new);
            p[h] = valid ? exp2f(sv - m_new) : 0.f;
            l[h] = l[h] * alpha + warp_sum(p[h]);
            m[h] = m_new;
#pragma unroll
            for (int t = 0; t < dpl; ++t) o[h][t] *= alpha;
        }
        // o += p_j * v_j over the tile's valid keys: lane j broadcasts its slot and weights, the
        // warp reads V row j coalesced (lane owns dims lane + 32 t).
        const int n_valid = min(32, ctx - base);
#pragma unroll 2  // two V rows in flight; also measured spill-free in every instantiation (-Xptxas -v)
        for (int jj = 0; jj < n_valid; ++jj) {
            const int sj = __shfl_sync(0xFFFFFFFFu, slot, jj);
            const uint16_t* vr = kv.v + int64_t(sj) * tok_stride + int64_t(kvh) * D;
            float vv[dpl];
#pragma unroll
            for (int t = 0; t < dpl; ++t) vv[t] = bf16_to_f32(vr[t * 32 + lane]);
#pragma unroll
            for (int h = 0; h < GP; ++h) {
                const float pj = __shfl_sync(0xFFFFFFFFu, p[h], jj);
#pragma unroll
                for (int t = 0; t < dpl; ++t) o[h][t] += pj * vv[t];
            }
        }
    }

    // Merge the warps' partial softmax states. A warp that saw no tile has m = -inf, l = 0, o = 0
    // and contributes exp2(-inf) = 0; warp 0 always saw key 0, so M is finite.
    if (lane == 0)
#pragma unroll
        for (int h = 0; h < GP; ++h) {
            red_m[warp][h] = m[h];
            red_l[warp][h] = l[h];
        }
#pragma unroll
    for (int h = 0; h < GP; ++h)
#pragma unroll
        for (int t = 0; t < dpl; ++t) red_o[warp][h][t * 32 + lane] = o[h][t];
    __syncthreads();
    for (int i = threadIdx.x; i < gn * D; i += blockDim.x) {
        const int h = i / D, d = i % D;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < n_warps; ++w) M = fmaxf(M, red_m[w][h]);
        float L = 0.f, O = 0.f;
#pragma unroll
        for (int w = 0; w < n_warps; ++w) {
            const float f = exp2f(red_m[w][h] - M);
            L += red_l[w][h] * f;
            O += red_o[w][h][d] * f;
        }
        out[row * q_stride + int64_t(h_first + h) * D + d] = f32_to_bf16(O / L);
    }
}

template <int D, int GP>
void launch(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
            int n_rows, int n_heads, int group, float scale_log2, cudaStream_t stream) {
    const dim3 grid{unsigned(n_rows), unsigned(kv.n_kv_heads), unsigned((group + GP - 1) / GP)};
    attention_decode_kernel<D, GP><<<grid, n_warps * 32, 0, stream>>>(q, out, kv, st, rows, n_heads, group, scale_log2);
}

template <int D>
void launch_d(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* rows,
              int n_rows, int n_heads, int group, float scale_log2, cudaStream_t stream) {
    // Smallest head chunk that covers the group (one CTA per kv head up to groups of 8).
    if (group <= 1) launch<D, 1>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, stream);
    else if (group <= 2) launch<D, 2>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, stream);
    else if (group <= 4) launch<D, 4>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, stream);
    else launch<D, 8>(q, out, kv, st, rows, n_rows, n_heads, group, scale_log2, stream);
}

} // namespace

void attention_decode_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                           const int32_t* rows, int n_rows, int n_heads, float scale, rl_stream stream) {
    RL_CHECK(q && out && kv.k && kv.v && rows, "attention_decode_bf16: null pointer");
    RL_CHECK(step.positions && step.row_seq && step.seq_table && step.block_tables, "attention_decode_bf16: step not set");
    RL_CHECK(kv.n_kv_heads > 0 && kv.block_size > 0 && n_heads > 0 && n_heads % kv.n_kv_heads == 0,
             "attention_decode_bf16: n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " +
                 std::to_string(kv.n_kv_heads));
    RL_CHECK(kv.n_kv_heads <= 65535 && n_rows >= 0, "attention_decode_bf16: bad grid");
    RL_CHECK(aligned16(kv.k) && aligned16(kv.v), "attention_decode_bf16: the KV pool must be 16-byte aligned");
    if (n_rows == 0) return;
    const int group = n_heads / kv.n_kv_heads;
    const float sl = scale * log2e;
    switch (kv.head_dim) {
    case 64: launch_d<64>(q, out, kv, step, rows, n_rows, n_heads, group, sl, stream); break;
    case 96: launch_d<96>(q, out, kv, step, rows, n_rows, n_heads, group, sl, stream); break;
    case 128: launch_d<128>(q, out, kv, step, rows, n_rows, n_heads, group, sl, stream); break;
    case 256: launch_d<256>(q, out, kv, step, rows, n_rows, n_heads, group, sl, stream); break;
    default: RL_THROW("attention_decode_bf16: head_dim " + std::to_string(kv.head_dim) + " is not supported (64, 96, 128, 256)");
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
