// attention_window.cu: the general paged attention, for what the tuned kernels do not take: a
// sliding window (Mistral, Gemma 3's local layers: a query at position p sees keys p-window+1 .. p)
// and head dims outside {64, 96, 128, 256} (any multiple of 8 up to 256, as tiny test models
// have). Every row of the step, prefill and decode alike, in one launch: one warp per (batch row,
// query head), 4 heads per CTA. The warp walks the row's keys in tiles of 32 from the window's
// first position: lane j scores key j against q (staged in shared memory, pre-scaled by
// scale*log2(e) so exp2 gives the softmax), the warp keeps an online softmax, and for P.V lane
// owns output dims lane, lane+32, ... Blocks before the window are never read, so the scheduler
// may have freed them (-1 in the table, step_input::kv_window). Correctness first: a K row per
// lane is not coalesced, so this is slower than the tuned kernels at their shapes.
// Exercised end to end by tests/test_gpu_families.cpp (against the CPU backend: windows of 6, 8
// and 4096 with blocks freed behind the window, head dims 32 and 16).
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"

#include <cmath>
#include <string>

namespace rl::kernels {
namespace {

constexpr int heads_per_cta = 4;
constexpr int max_head_dim = 256;
constexpr float log2e = 1.4426950408889634f;

template <int DPL>  // output dims per lane: ceil(head_dim / 32)
__global__ void __launch_bounds__(heads_per_cta * 32)
    attention_window_kernel(const uint16_t* __restrict__ q, uint16_t* __restrict__ out, paged_kv kv, step_meta st,
                            int n_heads, int group, float scale_log2, int window) {
    pdl_wait();
    pdl_trigger();
    __shared__ float q_s[heads_per_cta][max_head_dim];
    const int D = kv.head_dim, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int row = blockIdx.x, head = blockIdx.y * heads_per_cta + warp;
    if (head >= n_heads) return;  // whole warps only: no block-wide barrier follows
    const int pos = st.positions[row], seq = st.row_seq[row];
    const int64_t q_off = int64_t(row) * n_heads * D + int64_t(head) * D;
    uint16_t* orow = out + q_off;
    if (seq < 0 || seq >= st.n_seqs || pos < 0) {  // validated on the host; poison rather than read outside
        for (int d = lane; d < D; d += 32) orow[d] = 0x7FC0;
        return;
    }
    for (int d = lane; d < D; d += 32) q_s[warp][d] = bf16_to_f32(q[q_off + d]) * scale_log2;
    __syncwarp();
    const int32_t* bt = st.block_tables + st.seq_table[seq];
    const int kvh = head / group;
    const int64_t tok_stride = int64_t(kv.n_kv_heads) * D;
    const int lo = window > 0 ? max(0, pos - window + 1) : 0;

    float m = -INFINITY, l = 0.f, o[DPL];
#pragma unroll
    for (int t = 0; t < DPL; ++t) o[t] = 0.f;
    for (int kb = lo; kb <= pos; kb += 32) {
        // Lane j: key kb + j's pool offset (-1: past the row, or a block the table lacks).
        const int kpos = kb + lane;
        int64_t off = -1;
        if (kpos <= pos) {
            const int blk = bt[kpos / kv.block_size];
            if (blk >= 0 && blk < kv.num_blocks)
                off = (int64_t(blk) * kv.block_size + kpos % kv.block_size) * tok_stride + int64_t(kvh) * D;
        }
        float s = -INFINITY;
        if (off >= 0) {
            s = 0.f;
            for (int c = 0; c < D; c += 8) {
                float kf[8];
                load8_bf16(kv.k + off + c, kf);
#pragma unroll
                for (int e = 0; e < 8; ++e) s += q_s[warp][c + e] * kf[e];
            }
        }
        // Key lo (tile 0, lane 0) is valid in every table the host accepts, so m is finite after
        // the first tile; a tile with no readable key leaves the state as it is.
        const float m_new = fmaxf(m, warp_max(s));
        if (m_new == -INFINITY) continue;  // warp-uniform
        const float alpha = exp2f(m - m_new);
        const float p = off >= 0 ? exp2f(s - m_new) : 0.f;
        l = l * alpha + warp_sum(p);
        m = m_new;
#pragma unroll
        for (int t = 0; t < DPL; ++t) o[t] *= alpha;
        const int n_keys = min(32, pos - kb + 1);
        for (int j = 0; j < n_keys; ++j) {
            const float pj = __shfl_sync(0xffffffffu, p, j);
            const int64_t oj = __shfl_sync(0xffffffffu, off, j);
            if (oj < 0) continue;  // warp-uniform
#pragma unroll
            for (int t = 0; t < DPL; ++t) {
                const int d = t * 32 + lane;
                if (d < D) o[t] += pj * bf16_to_f32(kv.v[oj + d]);
            }
        }
    }
    const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
    for (int t = 0; t < DPL; ++t) {
        const int d = t * 32 + lane;
        if (d < D) orow[d] = f32_to_bf16(o[t] * inv);
    }
}

template <int DPL>
void launch_window(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& st, int n_heads,
                   float scale_log2, int window, cudaStream_t stream) {
    const dim3 grid{unsigned(st.n_tokens), unsigned((n_heads + heads_per_cta - 1) / heads_per_cta), 1u};
    launch(attention_window_kernel<DPL>, grid, heads_per_cta * 32, 0, stream, q, out, kv, st, n_heads,
           n_heads / kv.n_kv_heads, scale_log2, window);
}

} // namespace

bool attention_tuned_head_dim(int head_dim) {
    return head_dim == 64 || head_dim == 96 || head_dim == 128 || head_dim == 256;
}

void attention_window_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step, int n_heads,
                           float scale, int window, rl_stream stream) {
    RL_CHECK(q && out && kv.k && kv.v && step.positions && step.row_seq && step.block_tables,
             "attention_window_bf16: null pointer");
    RL_CHECK(kv.head_dim > 0 && kv.head_dim % 8 == 0 && kv.head_dim <= max_head_dim,
             "attention_window_bf16: head_dim " + std::to_string(kv.head_dim) + " (a multiple of 8 up to 256)");
    RL_CHECK(kv.n_kv_heads > 0 && n_heads > 0 && n_heads % kv.n_kv_heads == 0 && kv.block_size > 0,
             "attention_window_bf16: " + std::to_string(n_heads) + " heads over " + std::to_string(kv.n_kv_heads) +
                 " kv heads");
    RL_CHECK(window >= 0 && step.n_tokens >= 0 && n_heads <= 65535 * heads_per_cta, "attention_window_bf16: bad shape");
    if (step.n_tokens == 0) return;
    const float sl = scale * log2e;
    switch ((kv.head_dim + 31) / 32) {
    case 1: launch_window<1>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 2: launch_window<2>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 3: launch_window<3>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 4: launch_window<4>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 5: launch_window<5>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 6: launch_window<6>(q, out, kv, step, n_heads, sl, window, stream); break;
    case 7: launch_window<7>(q, out, kv, step, n_heads, sl, window, stream); break;
    default: launch_window<8>(q, out, kv, step, n_heads, sl, window, stream); break;
    }
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
