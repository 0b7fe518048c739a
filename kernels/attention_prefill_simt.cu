// attention_prefill_simt.cu: the fp32 CUDA-core variant of causal prefill attention over the paged
// KV pool, for head_dim 256, whose accumulators do not fit the tensor-core kernel's registers
// (attention_prefill.cu takes every other head dim, at about twice the speed). Flash-style: one
// CTA per (32 query rows of one sequence, query head), each 64-row host tile split in two; it
// walks the keys 0 .. last position of its rows in tiles of 32, staging K and V in shared memory
// (fp32, K rows padded by one word so lane j reading key j is bank-conflict free), and keeps an
// online softmax per query row in registers. Each of the 4 warps owns 8 query rows: lane j
// scores key j for its 8 rows, and for the P.V product lane owns output dims lane, lane+32, ...
// Scores are pre-scaled by scale*log2(e) so exp2 gives the softmax. No score matrix touches
// global memory.
// Exercised by tests/test_gpu_kernels.cpp (attentionOtherShapes, head_dim 256).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <cmath>

namespace rl::kernels {
namespace {

constexpr int bq = 32;  // query rows per CTA: half a host tile
constexpr int bk = 32;                           // keys per tile (one per lane)
constexpr int n_warps = 4;
constexpr int rpw = bq / n_warps;  // query rows per warp
constexpr float log2e = 1.4426950408889634f;
static_assert(bq % n_warps == 0, "query tile must split evenly over the warps");
static_assert(attention_prefill_tile_rows == 2 * bq, "a host tile is two of this kernel's tiles");

template <int D>
constexpr size_t smem_bytes() {
    return sizeof(float) * (size_t(bq) * D + size_t(bk) * (D + 1) + size_t(bk) * D + size_t(n_warps) * rpw * bk);
}

template <int D>
__global__ void __launch_bounds__(n_warps * 32)
    attention_prefill_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv, step_meta st,
                             const int32_t* __restrict__ tiles, int n_heads, int group, float scale_log2) {
    pdl_wait();
    pdl_trigger();
    constexpr int dpl = D / 32, ldk = D + 1, c8 = D / 8;
    extern __shared__ float smem[];
    float* q_s = smem;            // [bq][D]
    float* k_s = q_s + bq * D;    // [bk][ldk]
    float* v_s = k_s + bk * ldk;  // [bk][D]
    float* p_s = v_s + bk * D;    // [n_warps][rpw][bk]

    const int tile = blockIdx.x / 2, seq = tiles[2 * tile], r0 = tiles[2 * tile + 1] + bq * (blockIdx.x % 2);
    const int head = blockIdx.y, kvh = head / group;
    const int tb = st.seq_token_begin[seq], sp = st.seq_start_pos[seq];
    const int nrows = min(bq, st.seq_n_tokens[seq] - r0);
    if (nrows <= 0) return;  // the second half of a host tile shorter than 33 rows
    const int ctx = sp + r0 + nrows;                       // keys 0 .. ctx-1 are needed
    const int32_t* bt = st.block_tables + st.seq_table[seq];
    const int64_t q_stride = int64_t(n_heads) * D;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    // Q tile, pre-scaled. Rows past the chunk repeat its last row: computed, never written.
    for (int i = threadIdx.x; i < bq * c8; i += blockDim.x) {
        const int r = i / c8, c = (i % c8) * 8;
        float f[8];
        load8_bf16(q + int64_t(tb + r0 + min(r, nrows - 1)) * q_stride + int64_t(head) * D + c, f);
#pragma unroll
        for (int e = 0; e < 8; ++e) q_s[r * D + c + e] = f[e] * scale_log2;
    }
    int qpos[rpw];
#pragma unroll
    for (int i = 0; i < rpw; ++i) qpos[i] = sp + r0 + min(warp * rpw + i, nrows - 1);
    const int warp_last = qpos[rpw - 1];  // the warp's largest query position

    float m[rpw], l[rpw], o[rpw][dpl];
#pragma unroll
    for (int i = 0; i < rpw; ++i) {
        m[i] = -INFINITY;
        l[i] = 0.f;
#pragma unroll
        for (int t = 0; t < dpl; ++t) o[i][t] = 0.f;
    }

    float* pw = p_s + warp * rpw * bk;
    for (int kb = 0; kb < ctx; kb += bk) {
        __syncthreads();  // the previous tile's K, V and P are no longer read (and Q is staged)
        for (int i = threadIdx.x; i < bk * c8; i += blockDim.x) {
            const int j = i / c8, c = (i % c8) * 8;
            const int kpos = kb + j;
            float kf[8], vf[8];
            if (kpos < ctx) {
                const int slot = bt[kpos / kv.block_size] * kv.block_size + kpos % kv.block_size;
                const int64_t off = int64_t(slot) * tok_stride + int64_t(kvh) * D + c;
                load8_bf16(kv.k + off, kf);
                load8_bf16(kv.v + off, vf);
            } else {  // past the context: zeros (never NaN garbage, since p = 0 multiplies them)
#pragma unroll
                for (int e = 0; e < 8; ++e) kf[e] = vf[e] = 0.f;
            }
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                k_s[j * ldk + c + e] = kf[e];
                v_s[j * D + c + e] = vf[e];
            }
        }
        __syncthreads();
        if (kb > warp_last) continue;  // warp-uniform: all these keys come after all the warp's rows

        float s[rpw];
#pragma unroll
        for (int i = 0; i < rpw; ++i) s[i] = 0.f;
        const float* kr = k_s + lane * ldk;
#pragma unroll 16
        for (int d = 0; d < D; ++d) {
            const float kd = kr[d];
#pragma unroll
            for (int i = 0; i < rpw; ++i) s[i] += q_s[(warp * rpw + i) * D + d] * kd;
        }
        // Online softmax per row. Tile 0 holds key 0, valid for every row, so after it m is
        // finite and a fully masked later tile leaves the state unchanged (alpha 1, p 0).
        const int kpos = kb + lane;
#pragma unroll
        for (int i = 0; i < rpw; ++i) {
            const bool ok = kpos <= qpos[i];
            const float sv = ok ? s[i] : -INFINITY;
            const float m_new = fmaxf(m[i], warp_max(sv));
            const float alpha = exp2f(m[i] - m_new);
            const float p = ok ? exp2f(sv - m_new) : 0.f;
            l[i] = l[i] * alpha + warp_sum(p);
            m[i] = m_new;
#pragma unroll
            for (int t = 0; t < dpl; ++t) o[i][t] *= alpha;
            pw[i * bk + lane] = p;
        }
        __syncwarp();
        const int n_keys = min(bk, ctx - kb);
        for (int j = 0; j < n_keys; ++j) {
            float vv[dpl];
#pragma unroll
            for (int t = 0; t < dpl; ++t) vv[t] = v_s[j * D + t * 32 + lane];
#pragma unroll
            for (int i = 0; i < rpw; ++i) {
                const float pj = pw[i * bk + j];
#pragma unroll
                for (int t = 0; t < dpl; ++t) o[i][t] += pj * vv[t];
            }
        }
    }

#pragma unroll
    for (int i = 0; i < rpw; ++i) {
        const int r = warp * rpw + i;
        if (r >= nrows) continue;
        uint16_t* orow = out + int64_t(tb + r0 + r) * q_stride + int64_t(head) * D;
        const float inv = 1.f / l[i];
#pragma unroll
        for (int t = 0; t < dpl; ++t) orow[t * 32 + lane] = f32_to_bf16(o[i][t] * inv);
    }
}

template <int D>
void launch_simt(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* tiles,
            int n_tiles, int n_heads, int group, float scale_log2, cudaStream_t stream) {
    constexpr size_t smem = smem_bytes<D>();
    // Above 48 KB a kernel must opt in to more dynamic shared memory (per device; cheap to repeat).
    if (smem > 48 * 1024)
        RL_CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           int(smem)));
    const dim3 grid{unsigned(2 * n_tiles), unsigned(n_heads), 1u};
    launch(attention_prefill_kernel<D>, grid, n_warps * 32, smem, stream, q, out, kv, st, tiles, n_heads, group, scale_log2);
}

} // namespace

void attention_prefill_simt_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                                 const int32_t* tiles, int n_tiles, int n_heads, float scale, rl_stream stream) {
    check_attention_prefill_args(q, out, kv, step, tiles, n_tiles, n_heads, "attention_prefill_simt_bf16");
    RL_CHECK(n_heads <= 65535 && 2 * int64_t(n_tiles) < (int64_t(1) << 31), "attention_prefill_simt_bf16: bad grid");
    if (n_tiles == 0) return;
    const int group = n_heads / kv.n_kv_heads;
    const float sl = scale * log2e;
    // Only head_dim 256 reaches this kernel (attention_prefill_bf16 takes 64, 96 and 128 on
    // tensor cores), so only that one is compiled.
    RL_CHECK(kv.head_dim == 256, "attention_prefill_simt_bf16: head_dim " + std::to_string(kv.head_dim) +
                                     " is not supported (256; 64, 96 and 128 take attention_prefill_bf16)");
    launch_simt<256>(q, out, kv, step, tiles, n_tiles, n_heads, group, sl, stream);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
