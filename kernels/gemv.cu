// gemv.cu: decode's skinny matmuls, out_s[n, m_s] = x[n, k] . w_s[m_s, k]^T for n <= 8 rows and up
// to three weight matrices s that share x (q, k and v; gate and up): one launch instead of three
// cuBLASLt GEMMs plus their split-K reductions. bf16 operands, fp32 accumulation, bf16 or f32
// out. In GLU mode (gate and up) one warp computes row j of both and writes only
// bf16(silu(gate) * up), from the bf16-rounded gate and up exactly as silu_mul would: the
// activation kernel and the gate/up round trip through memory go away. (An earlier version
// fused silu into the down projection's input instead: that recomputes silu once per output row
// for every input value, and was slower than cuBLASLt on a large model.)
// At small n the product is a stream over the weights, each byte read once: one warp per R
// consecutive output rows; each lane loads 16-byte chunks of those R rows (U*R chunks in flight,
// through the non-allocating L1 path, so x stays cached) and dots them with the n rows of x.
// R > 1 at larger n amortises each x chunk (load and convert) over R weight chunks; the FMAs
// (n per weight) are what limits n = 8. Needs k % 8 == 0 and 16-byte aligned x and w.
// Decode is launch-latency bound at small models, so the kernel also hides latency and saves
// launches: each warp loads its first weight chunks before pdl_wait (weights are never written by
// an earlier kernel, so they stream in while the previous kernel finishes), and two optional ends
// replace the residual kernels: a prologue that takes the f32 residual stream and applies RMSNorm
// itself (each CTA sums the row's squares and keeps the normalised bf16 row in shared memory,
// exactly what rms_norm would have written), and an epilogue that adds the bf16-rounded product
// into the f32 residual (what add would have done). A SmolLM2 layer then needs no norm or add
// kernel. A third end takes decode's rope and KV store: the warp that computes rows 2i and 2i+1
// of q or k (R is even and segments hold whole heads, so a rotated pair never spans two warps)
// rotates them, and k and v rows go straight into the paged pool; the rope_kv_store launch goes.
// Exercised by tests/test_gpu_fused.cpp; the dispatch (which n go here) is in gemm.cpp; the
// parameters, the weight load and the two ends are in gemv_parts.cuh.
#include "gemv_kernel.cuh"

#include <string>
#include <type_traits>

namespace rl::kernels {

int64_t gemv_int8_smem_max() {
    static const int64_t v = [] {
        int dev = 0, optin = 0;
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
            return int64_t(47 * 1024);
        return int64_t(optin) - 2 * 1024;  // the kernel's static arrays (k-split sums, norm partials)
    }();
    return v;
}

bool gemv_bf16_supported(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool glu,
                         const gemv_ends& ends) {
    if (!segs || n < 1 || n > gemv_max_rows || n_seg < 1 || n_seg > gemv_max_segments) return false;
    if (k <= 0 || k % 8 != 0 || k >= (int64_t(1) << 30)) return false;
    if (ends.norm_x) {
        if (!ends.norm_w || !aligned16(ends.norm_x) || !aligned16(ends.norm_w) || ends.eps < 0.f) return false;
        if (n * k * 2 > gemv_norm_smem_max) return false;  // the normalised rows live in shared memory
    } else if (!x || !aligned16(x)) {
        return false;
    }
    if (glu && (n_seg != 2 || segs[0].m != segs[1].m || ends.add_to_out)) return false;
    if (ends.rope_inv_freq) {
        const paged_kv& kv = ends.kv;
        const step_meta& st = ends.step;
        const int64_t hd = kv.head_dim, kw = int64_t(kv.n_kv_heads) * hd;
        if (glu || ends.add_to_out || n_seg != 3 || hd <= 0 || hd % 2 != 0 || ends.rope_dim <= 0 ||
            ends.rope_dim % 2 != 0 || ends.rope_dim > hd || !kv.k || !kv.v || kv.block_size <= 0)
            return false;
        if (segs[0].m % hd != 0 || segs[1].m != kw || segs[2].m != kw) return false;
        auto aligned4 = [](const void* q) { return (reinterpret_cast<uintptr_t>(q) & 3u) == 0; };
        if (!aligned4(kv.k) || !aligned4(kv.v) || !aligned4(segs[0].out) || !aligned4(segs[1].out) ||
            !aligned4(segs[2].out))
            return false;
        if (!st.positions || !st.row_seq || !st.seq_table || !st.block_tables || st.n_tokens != n) return false;
    }
    if (ends.add_to_out && n_seg != 1) return false;
    // A block format: one for all segments, whole units per row (whole blocks are whole units).
    int unit = 0;
    if (!with_format(segs[0].w_type, [&](auto q) { unit = decltype(q)::unit_elems; })) return false;
    if (k % unit != 0) return false;
    int64_t m_total = 0;
    for (int s = 0; s < n_seg; ++s) {
        if (!segs[s].w || (!glu && !segs[s].out) || segs[s].m <= 0 || !aligned16(segs[s].w)) return false;
        if (segs[s].w_type != segs[0].w_type) return false;
        m_total += segs[s].m;
    }
    return m_total < (int64_t(1) << 30);
}

void gemv_bf16(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool out_f32,
               rl_stream stream, uint16_t* glu_out, const gemv_ends& ends) {
    RL_CHECK(gemv_bf16_supported(x, segs, n_seg, n, k, glu_out != nullptr, ends),
             "gemv_bf16: unsupported shape or alignment (n " + std::to_string(n) + ", k " + std::to_string(k) + ")");
    RL_CHECK(!ends.add_to_out || out_f32, "gemv_bf16: adding into the output needs an f32 output");
    gemv_params p{};
    int end = 0;
    for (int s = 0; s < n_seg; ++s) {
        p.w[s] = static_cast<const uint8_t*>(segs[s].w);
        p.out[s] = segs[s].out;
        end += int(segs[s].m);
        p.m_end[s] = end;
    }
    for (int s = n_seg; s < gemv_max_segments; ++s) p.m_end[s] = end;  // empty trailing segments
    p.x = x;
    p.glu_out = glu_out;
    p.n = int(n);
    p.k = int(k);
    p.xf = ends.norm_x;
    p.norm_w = ends.norm_w;
    p.norm_w_bf16 = ends.norm_w_bf16;
    p.eps = ends.eps;
    RL_CHECK(!ends.rope_inv_freq || !out_f32, "gemv_bf16: the rope + KV store end writes bf16");
    p.inv_freq = ends.rope_inv_freq;
    p.rope_half = ends.rope_dim / 2;
    p.kv = ends.kv;
    p.st = ends.step;
    const int out = ends.rope_inv_freq ? int(out_rope_kv)
                    : ends.add_to_out  ? int(out_add_f32)
                    : out_f32          ? int(out_mode::out_f32)
                                       : int(out_bf16);
    // Short rows (k <= tuning().gemv_deep_k, e.g. SmolLM2's 576 and 1536) at one or two x rows:
    // 4 chunks per row in flight per lane, so a 576-wide row is loaded whole before pdl_wait and a
    // 1536-wide one in two round trips instead of three. Long rows (Llama's 4096) keep 2, which
    // measured faster there (dev/notes/kernel-switches.md); where between the two the line lies
    // is open.
    if (segs[0].w_type != ggml_type::bf16) {  // a block format (supported() checked it is one)
        with_format(segs[0].w_type, [&](auto q) {
            using Q = decltype(q);
            if constexpr (!std::is_same_v<Q, qf::bf16>) gemv_blocks<Q>(p, out, glu_out != nullptr, stream);
        });
        return;
    }
    const kernel_tuning& t = tuning();
    if (k <= t.gemv_deep_k && n <= 2) {  // (its kernels hold at most 2 x rows)
        if (n == 1 && glu_out) launch_n<qf::bf16, 1, 2, 4, true>(p, out, stream);
        else if (n == 1) launch_n<qf::bf16, 1, 2, 4, false>(p, out, stream);
        else if (glu_out) launch_n<qf::bf16, 2, 2, 4, true>(p, out, stream);
        else launch_n<qf::bf16, 2, 2, 4, false>(p, out, stream);
        return;
    }
    // One or two x rows: two output rows per warp (each x chunk, loaded and widened once, then
    // serves two weight rows, which streamed markedly faster than one row per warp), each row
    // pair over 1, 2 or 4 warps by end (launch_split). Short rows (the deep_k branch above) never
    // reach it.
    if (n <= 2) {
        const gemv_end end = glu_out ? gemv_end::glu
                             : out == out_rope_kv ? gemv_end::rope
                             : out == out_add_f32 ? gemv_end::add
                                                  : gemv_end::out;
        const gemv_split& ks = t.gemv_k_split[n - 1][int(end)];
        if (n == 1) glu_out ? launch_split<qf::bf16, 1, true>(ks, p, out, stream) : launch_split<qf::bf16, 1, false>(ks, p, out, stream);
        else glu_out ? launch_split<qf::bf16, 2, true>(ks, p, out, stream) : launch_split<qf::bf16, 2, false>(ks, p, out, stream);
        return;
    }
    if (glu_out) {
        if (n <= 4) launch_n<qf::bf16, 4, 2, 2, true>(p, out, stream);
        else launch_n<qf::bf16, 8, 2, 1, true>(p, out, stream);
    } else if (n <= 4) launch_n<qf::bf16, 4, 2, 2, false>(p, out, stream);
    else launch_n<qf::bf16, 8, 4, 1, false>(p, out, stream);
}

} // namespace rl::kernels
