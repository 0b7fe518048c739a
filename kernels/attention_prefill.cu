// attention_prefill.cu: causal attention for multi-token chunks over the paged KV pool (prefill,
// including chunks that continue a cached context), on tensor cores, FlashAttention-2 style.
// One CTA per (tile of 64 query rows of one sequence, query head); 4 warps own 16 rows each. The
// CTA walks keys 0 .. its last position in tiles of 64: K and V rows are gathered from the block
// table into shared memory with cp.async, double-buffered so the next tile streams in while this
// one is multiplied. S = Q K^T and O += P V are bf16 m16n8k16 MMAs with fp32 accumulators; the
// online softmax runs on the S accumulators in registers (scores pre-scaled by scale*log2(e), so
// exp2 gives the softmax), and P is rounded to bf16 in place to become the A operand of P V. No
// score matrix touches global memory.
// Block order: the heads of one query tile are adjacent block ids, so the 4-8 query heads that
// share a KV head (and every other head of the tile) read the same K/V rows while they are in L2
// instead of fetching them from DRAM once per head; tiles run last-first, the longest first.
// head_dim 64, 96, 128 here; 256 goes to attention_prefill_simt.cu (its accumulators would not
// fit this kernel's registers).
// Exercised by tests/test_gpu_kernels.cpp against the CPU reference.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "mma.cuh"

#include <cmath>

namespace rl::kernels {
namespace {

constexpr int bq = attention_prefill_tile_rows;  // query rows per CTA
constexpr int bk = 64;                           // keys per tile
constexpr int n_warps = 4;
constexpr int n_threads = n_warps * 32;
constexpr float log2e = 1.4426950408889634f;
static_assert(bq == 16 * n_warps, "each warp owns one 16-row MMA tile");

// Row stride of the shared tiles: D + 8 bf16, an odd number of 16-byte units, so the 8 row
// addresses of one ldmatrix land in 8 different bank groups.
template <int D>
constexpr int ld() { return D + 8; }

template <int D>
constexpr size_t smem_bytes() { return sizeof(uint16_t) * size_t(bq + 4 * bk) * ld<D>(); }  // Q, 2 x (K, V)

template <int D>
__global__ void __launch_bounds__(n_threads)
    attention_prefill_mma_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv,
                                 step_meta st, const int32_t* __restrict__ tiles, int n_tiles, int n_heads, int group,
                                 float scale_log2) {
    pdl_wait();
    pdl_trigger();
    constexpr int L = ld<D>(), c8 = D / 8, nkd = D / 16, nds = D / 8, nks = bk / 8;
    extern __shared__ __align__(16) uint16_t sm[];
    uint16_t* q_s = sm;           // [bq][L]
    uint16_t* kv_s = sm + bq * L; // [2][K, V][bk][L]

    const int tile = n_tiles - 1 - int(blockIdx.x / unsigned(n_heads));
    const int head = int(blockIdx.x % unsigned(n_heads)), kvh = head / group;
    const int seq = tiles[2 * tile], r0 = tiles[2 * tile + 1];
    const int tb = st.seq_token_begin[seq], sp = st.seq_start_pos[seq];
    const int nrows = min(bq, st.seq_n_tokens[seq] - r0);  // >= 1 (the host makes no empty tiles)
    const int ctx = sp + r0 + nrows;                       // keys 0 .. ctx-1 are needed
    const int32_t* bt = st.block_tables + st.seq_table[seq];
    const int64_t q_stride = int64_t(n_heads) * D;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;

    // Q tile. Rows past the chunk repeat its last row: computed, never written.
    for (int i = threadIdx.x; i < bq * c8; i += n_threads) {
        const int r = i / c8, c = (i % c8) * 8;
        cp_async16(q_s + r * L + c, q + int64_t(tb + r0 + min(r, nrows - 1)) * q_stride + int64_t(head) * D + c, 16);
    }
    auto load_kv = [&](int kb, int buf) {
        uint16_t* k_s = kv_s + buf * 2 * bk * L;
        uint16_t* v_s = k_s + bk * L;
        for (int i = threadIdx.x; i < bk * c8; i += n_threads) {
            const int j = i / c8, c = (i % c8) * 8, kpos = kb + j;
            if (kpos < ctx) {
                const int slot = bt[kpos / kv.block_size] * kv.block_size + kpos % kv.block_size;
                const int64_t off = int64_t(slot) * tok_stride + int64_t(kvh) * D + c;
                cp_async16(k_s + j * L + c, kv.k + off, 16);
                cp_async16(v_s + j * L + c, kv.v + off, 16);
            } else {  // past the context: zeros, so P (0 there) never multiplies garbage V
                cp_async16(k_s + j * L + c, kv.k, 0);
                cp_async16(v_s + j * L + c, kv.v, 0);
            }
        }
    };
    load_kv(0, 0);
    cp_async_commit();

    const int w0 = warp * 16;                                    // the warp's first row in the tile
    const int qpos_a = sp + r0 + min(w0 + g, nrows - 1);         // rows g and g+8 of the warp
    const int qpos_b = sp + r0 + min(w0 + g + 8, nrows - 1);
    const int q_lo = sp + r0 + min(w0, nrows - 1), q_hi = sp + r0 + min(w0 + 15, nrows - 1);
    uint32_t qf[nkd][4];
    float o[nds][4], m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;
#pragma unroll
    for (int n = 0; n < nds; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;

    const int n_kt = (ctx + bk - 1) / bk;
    for (int kt = 0; kt < n_kt; ++kt) {
        if (kt + 1 < n_kt) load_kv((kt + 1) * bk, (kt + 1) & 1);
        cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning tile kt
        cp_async_wait<1>();
        __syncthreads();
        if (kt == 0) {
#pragma unroll
            for (int kd = 0; kd < nkd; ++kd) ldmatrix_x4(qf[kd], q_s + (w0 + lane % 16) * L + kd * 16 + (lane / 16) * 8);
        }
        const int kb = kt * bk;
        if (kb <= q_hi) {  // warp-uniform: otherwise every key of the tile follows every row of the warp
            const uint16_t* k_s = kv_s + (kt & 1) * 2 * bk * L;
            const uint16_t* v_s = k_s + bk * L;
            float s[nks][4];
#pragma unroll
            for (int n = 0; n < nks; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
            for (int kd = 0; kd < nkd; ++kd)
#pragma unroll
                for (int np = 0; np < nks / 2; ++np) {
                    uint32_t b[4];
                    ldmatrix_x4(b, k_s + (np * 16 + (lane / 16) * 8 + lane % 8) * L + kd * 16 + ((lane / 8) % 2) * 8);
                    mma_bf16_16816(s[2 * np], qf[kd], b[0], b[1]);
                    mma_bf16_16816(s[2 * np + 1], qf[kd], b[2], b[3]);
                }
            // Scale, mask (only tiles that reach past the warp's first row), and the online softmax.
            // Tile 0 holds key 0, valid for every row, so m is finite from then on and a row
            // whose keys here are all masked keeps its state (alpha 1, p 0).
            const bool mask = kb + bk - 1 > q_lo;
            float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
            for (int n = 0; n < nks; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = kb + n * 8 + 2 * t4 + (e & 1);
                    float v = s[n][e] * scale_log2;
                    if (mask && key > (e < 2 ? qpos_a : qpos_b)) v = -INFINITY;
                    s[n][e] = v;
                    if (e < 2) mx_a = fmaxf(mx_a, v);
                    else mx_b = fmaxf(mx_b, v);
                }
#pragma unroll
            for (int x = 1; x <= 2; x <<= 1) {  // the 4 lanes of a quad share rows g and g+8
                mx_a = fmaxf(mx_a, __shfl_xor_sync(0xFFFFFFFFu, mx_a, x));
                mx_b = fmaxf(mx_b, __shfl_xor_sync(0xFFFFFFFFu, mx_b, x));
            }
            const float mn_a = fmaxf(m_a, mx_a), mn_b = fmaxf(m_b, mx_b);
            const float al_a = exp2f(m_a - mn_a), al_b = exp2f(m_b - mn_b);
            m_a = mn_a;
            m_b = mn_b;
            float sum_a = 0.f, sum_b = 0.f;
#pragma unroll
            for (int n = 0; n < nks; ++n) {
                s[n][0] = exp2f(s[n][0] - mn_a);
                s[n][1] = exp2f(s[n][1] - mn_a);
                s[n][2] = exp2f(s[n][2] - mn_b);
                s[n][3] = exp2f(s[n][3] - mn_b);
                sum_a += s[n][0] + s[n][1];
                sum_b += s[n][2] + s[n][3];
            }
            l_a = l_a * al_a + sum_a;  // per-lane partial sums: the quad is summed once, at the end
            l_b = l_b * al_b + sum_b;
#pragma unroll
            for (int n = 0; n < nds; ++n) {
                o[n][0] *= al_a;
                o[n][1] *= al_a;
                o[n][2] *= al_b;
                o[n][3] *= al_b;
            }
#pragma unroll
            for (int kk = 0; kk < bk / 16; ++kk) {
                // The C fragments of S columns 16kk .. 16kk+15 are, packed to bf16, the A fragment of P.
                const uint32_t pa[4] = {pack_bf16x2(s[2 * kk][0], s[2 * kk][1]), pack_bf16x2(s[2 * kk][2], s[2 * kk][3]),
                                        pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                        pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
                for (int dp = 0; dp < nds / 2; ++dp) {
                    uint32_t b[4];
                    ldmatrix_x4_trans(b, v_s + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * L + dp * 16 + (lane / 16) * 8);
                    mma_bf16_16816(o[2 * dp], pa, b[0], b[1]);
                    mma_bf16_16816(o[2 * dp + 1], pa, b[2], b[3]);
                }
            }
        }
        __syncthreads();  // this buffer is refilled at the top of the next iteration
    }

#pragma unroll
    for (int x = 1; x <= 2; x <<= 1) {
        l_a += __shfl_xor_sync(0xFFFFFFFFu, l_a, x);
        l_b += __shfl_xor_sync(0xFFFFFFFFu, l_b, x);
    }
    const float inv_a = 1.f / l_a, inv_b = 1.f / l_b;
    const int ra = w0 + g, rb = w0 + g + 8;
    uint16_t* oa = out + int64_t(tb + r0 + ra) * q_stride + int64_t(head) * D + 2 * t4;
    uint16_t* ob = out + int64_t(tb + r0 + rb) * q_stride + int64_t(head) * D + 2 * t4;
#pragma unroll
    for (int n = 0; n < nds; ++n) {
        if (ra < nrows) *reinterpret_cast<uint32_t*>(oa + n * 8) = pack_bf16x2(o[n][0] * inv_a, o[n][1] * inv_a);
        if (rb < nrows) *reinterpret_cast<uint32_t*>(ob + n * 8) = pack_bf16x2(o[n][2] * inv_b, o[n][3] * inv_b);
    }
}

template <int D>
void launch_mma(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, const int32_t* tiles,
                int n_tiles, int n_heads, int group, float scale_log2, cudaStream_t stream) {
    constexpr size_t smem = smem_bytes<D>();
    if (smem > 48 * 1024)  // above 48 KB a kernel must opt in (per device; cheap to repeat)
        RL_CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_mma_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           int(smem)));
    const dim3 grid{unsigned(int64_t(n_tiles) * n_heads), 1u, 1u};
    launch(attention_prefill_mma_kernel<D>, grid, n_threads, smem, stream, q, out, kv, st, tiles, n_tiles, n_heads,
           group, scale_log2);
}

} // namespace

void check_attention_prefill_args(const uint16_t* q, const uint16_t* out, const paged_kv& kv, const step_meta& step,
                                  const int32_t* tiles, int n_tiles, int n_heads, const char* who) {
    const std::string w = who;
    RL_CHECK(q && out && kv.k && kv.v && tiles, w + ": null pointer");
    RL_CHECK(step.positions && step.seq_token_begin && step.seq_n_tokens && step.seq_start_pos && step.seq_table &&
                 step.block_tables,
             w + ": step not set");
    RL_CHECK(kv.n_kv_heads > 0 && kv.block_size > 0 && n_heads > 0 && n_heads % kv.n_kv_heads == 0,
             w + ": n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " +
                 std::to_string(kv.n_kv_heads));
    RL_CHECK(n_tiles >= 0, w + ": negative tile count");
    RL_CHECK(aligned16(q) && aligned16(kv.k) && aligned16(kv.v), w + ": q and the KV pool must be 16-byte aligned");
}

void attention_prefill_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                            const int32_t* tiles, int n_tiles, int n_heads, float scale, rl_stream stream) {
    const int d = kv.head_dim;
    if (d != 64 && d != 96 && d != 128) {
        attention_prefill_simt_bf16(q, out, kv, step, tiles, n_tiles, n_heads, scale, stream);
        return;
    }
    check_attention_prefill_args(q, out, kv, step, tiles, n_tiles, n_heads, "attention_prefill_bf16");
    RL_CHECK(int64_t(n_tiles) * n_heads < (int64_t(1) << 31), "attention_prefill_bf16: bad grid");
    if (n_tiles == 0) return;
    const int group = n_heads / kv.n_kv_heads;
    const float sl = scale * log2e;
    switch (d) {
    case 64: launch_mma<64>(q, out, kv, step, tiles, n_tiles, n_heads, group, sl, stream); break;
    case 96: launch_mma<96>(q, out, kv, step, tiles, n_tiles, n_heads, group, sl, stream); break;
    default: launch_mma<128>(q, out, kv, step, tiles, n_tiles, n_heads, group, sl, stream); break;
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
