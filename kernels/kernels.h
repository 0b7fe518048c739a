// kernels.h: host launchers of the kernels/ families, callable from plain C++ (no CUDA headers).
// Each launcher checks its inputs, launches on the given stream and checks the launch.
#pragma once
#include "gguf/ggml_types.h"
#include <cstddef>
#include <cstdint>
#include <string>

struct CUstream_st;
using rl_stream = CUstream_st*;  // == cudaStream_t

namespace rl::kernels {

/// Dequantizes n elements of a ggml tensor (device memory) to bf16 (device memory).
/// Supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k. n must be a
/// multiple of the block size; block formats need 16-byte aligned src and dst.
void dequantize_to_bf16(ggml_type type, const void* src, uint16_t* dst, int64_t n, rl_stream stream);

/// True when a CUDA device is usable; `why` says why not otherwise.
bool cuda_available(std::string* why);

// --- one step's batch, as the attention and KV kernels see it --------------------------------
// All bf16 tensors are uint16_t bit patterns in device memory, row-major and contiguous.

/// Device copies of a step_input's bookkeeping (int32, device memory; see cuda_backend.cpp).
struct step_meta {
    const int32_t* positions = nullptr;        // [n_tokens] position of each batch row
    const int32_t* row_seq = nullptr;          // [n_tokens] batch row -> sequence index
    const int32_t* seq_token_begin = nullptr;  // [n_seqs] first batch row of the sequence
    const int32_t* seq_n_tokens = nullptr;     // [n_seqs]
    const int32_t* seq_start_pos = nullptr;    // [n_seqs]
    const int32_t* seq_table = nullptr;        // [n_seqs] offset of the sequence's table in block_tables
    const int32_t* block_tables = nullptr;     // flattened: logical block -> physical block
    int n_tokens = 0;
    int n_seqs = 0;
};

/// One layer of the paged KV pool: K and V each [num_blocks, block_size, n_kv_heads, head_dim] bf16.
struct paged_kv {
    uint16_t* k = nullptr;
    uint16_t* v = nullptr;
    int num_blocks = 0;
    int block_size = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
};

/// Query rows per prefill CTA: the backend cuts each multi-token sequence into tiles this tall
/// (4 warps x one 16-row MMA tile in attention_prefill.cu).
constexpr int attention_prefill_tile_rows = 64;

// --- launchers (each checks its arguments, launches on `stream`, checks the launch) ----------

/// out[i, :] = table[tokens[i], :] for i < n; table [vocab, d] bf16. Ids outside the table
/// write NaN rows (the backend validates ids on the host first).
void embed_bf16(const uint16_t* table, int64_t vocab, int64_t d, const int32_t* tokens, int n, uint16_t* out,
                rl_stream stream);

/// The same into f32 rows (the residual stream): out [n, d] f32.
void embed_bf16_f32(const uint16_t* table, int64_t vocab, int64_t d, const int32_t* tokens, int n, float* out,
                    rl_stream stream);

/// The same from a table in a GGUF block format (any type dequantize_to_bf16 takes), into f32
/// (out_f32) or bf16 rows, as dequantize_to_bf16 would decode them.
void embed_blocks(ggml_type type, const void* table, int64_t vocab, int64_t d, const int32_t* tokens, int n,
                  void* out, bool out_f32, rl_stream stream);

/// out[i, :] = src[rows[i], :] for i < n; src [src_rows, cols] of elem_bytes (2 or 4) each.
void gather_rows(const void* src, int64_t src_rows, int64_t cols, int elem_bytes, const int32_t* rows, int n,
                 void* out, rl_stream stream);
inline void gather_rows_bf16(const uint16_t* src, int64_t src_rows, int64_t cols, const int32_t* rows, int n,
                             uint16_t* out, rl_stream stream) {
    gather_rows(src, src_rows, cols, 2, rows, n, out, stream);
}
/// x += y elementwise over n values.
void add_bf16(uint16_t* x, const uint16_t* y, int64_t n, rl_stream stream);
/// x (f32) += y (bf16) elementwise over n values.
void add_f32_bf16(float* x, const uint16_t* y, int64_t n, rl_stream stream);

/// ids[r] = column of the largest value of row r of x [rows, cols] (f32 or bf16); the first on
/// ties, NaNs ignored (a row of NaNs gives 0). ids in device memory.
void argmax_rows(const void* x, bool x_is_bf16, int64_t rows, int64_t cols, int32_t* ids, rl_stream stream);
/// Per-row sampling parameters on the device (the layout of rl::row_sampling, padded).
struct device_sample_params {
    float temperature = 0.f, top_p = 1.f, min_p = 0.f, u = 0.f;
    int32_t top_k = 0, pad[3] = {0, 0, 0};
};
/// ids[r] = the token drawn from f32 logits row r of x [rows, vocab] under params[r], by the rule
/// of engine/backend/row_sampling.h (temperature 0: the argmax). params and ids in device memory.
void sample_rows(const float* x, int64_t rows, int64_t vocab, const device_sample_params* params, int32_t* ids,
                 rl_stream stream);
/// x[r, :] += bias[:] for x [rows, cols].
void add_bias_bf16(uint16_t* x, const uint16_t* bias, int64_t rows, int64_t cols, rl_stream stream);
/// x *= s over n values, x f32 or bf16 (x_is_bf16), in fp32 with one rounding for bf16.
void scale_inplace(void* x, bool x_is_bf16, int64_t n, float s, rl_stream stream);
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n, rl_stream stream);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n, rl_stream stream);

/// out[i] = random_uniform_at(seed, i, lo, hi) for i < n (backend/random_uniform.h), rounded once
/// to the output type: the CPU backend's fill_random, bit for bit, made on the device.
enum class fill_kind { f32, bf16, f16 };
void fill_uniform(void* out, fill_kind kind, int64_t n, uint64_t seed, float lo, float hi, rl_stream stream);
/// n_blocks random blocks of a GGUF block format (q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k):
/// uniform quant bytes from (seed, byte index), scales set so values span about [-amp, amp].
void fill_blocks(ggml_type type, void* out, int64_t n_blocks, uint64_t seed, float amp, rl_stream stream);

/// out = x / sqrt(mean(x^2) + eps) * w per row; x, out [rows, d] bf16; w [d] fp32 or bf16
/// (w_is_bf16). out may alias x.
void rms_norm_bf16(const uint16_t* x, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows,
                   int64_t d, rl_stream stream);
/// Fused residual add + norm: x += y (x keeps the bf16 sum), then out = rms_norm(x) * w.
void add_rms_norm_bf16(uint16_t* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out,
                       int64_t rows, int64_t d, rl_stream stream);

/// The same over an f32 residual stream: x [rows, d] f32 (updated in place in f32 by the fused
/// variant, y bf16), out [rows, d] bf16.
void rms_norm_f32(const float* x, const void* w, bool w_is_bf16, float eps, uint16_t* out, int64_t rows, int64_t d,
                  rl_stream stream);
void add_rms_norm_f32(float* x, const uint16_t* y, const void* w, bool w_is_bf16, float eps, uint16_t* out,
                      int64_t rows, int64_t d, rl_stream stream);

/// In-place rotary embedding of x [rows, n_heads*head_dim] at positions[rows]; inv_freq
/// [rope_dim/2] fp32 (device). neox=false rotates (x[2i], x[2i+1]), true (x[i], x[i+rope_dim/2]).
void rope_bf16(uint16_t* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox,
               const int32_t* positions, const float* inv_freq, rl_stream stream);

/// out = silu(gate) * up over n values.
void silu_mul_bf16(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream);
/// out = gelu(gate) * up over n values, GELU in its tanh form (Gemma's GeGLU).
void gelu_mul_bf16(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n, rl_stream stream);

/// Writes k and v rows ([n_tokens, n_kv_heads*head_dim]) into the pool at each row's position.
void kv_store_bf16(const uint16_t* k, const uint16_t* v, const paged_kv& kv, const step_meta& step,
                   rl_stream stream);

/// Attention of single-token rows (decode): rows[n_rows] are batch rows, each attending to
/// positions 0..positions[row] of its sequence. q, out [n_tokens, n_heads*head_dim].
/// head_dim in {64, 96, 128, 256}; n_heads a multiple of kv.n_kv_heads.
/// n_split > 1 splits every row's context into at most that many slices of whole 32-key tiles
/// (more CTAs at small batch; the kernel sizes them from the context, unused ones exit) and
/// needs ws with attention_decode_ws_floats(...) floats and n_rows * n_heads int counters that
/// are zero before the first launch (each launch leaves them zero); attention_decode_splits picks
/// n_split from the batch shape alone (so a recorded graph stays valid as contexts grow) and the
/// attn_* fields of tuning.h. Slices merge in cluster shared memory where the device and binary
/// allow it, else through ws (automatic; force_fallbacks_for_test forces the latter).
void attention_decode_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                           const int32_t* rows, int n_rows, int n_heads, float scale, rl_stream stream,
                           int n_split = 1, float* ws = nullptr, int64_t ws_floats = 0, int* counters = nullptr,
                           int64_t n_counters = 0);
constexpr int attention_decode_max_splits = 16;
int attention_decode_splits(int n_rows, int n_heads, int n_kv_heads, int sms);
int64_t attention_decode_ws_floats(int n_rows, int n_heads, int head_dim, int n_split);

/// Causal attention of multi-token chunks: tiles[2*t] is a sequence, tiles[2*t+1] the offset of
/// the tile's first row inside that sequence's rows (tiles of attention_prefill_tile_rows rows).
/// Tensor cores for head_dim 64/96/128; other head dims (256) take the fp32 kernel below.
void attention_prefill_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                            const int32_t* tiles, int n_tiles, int n_heads, float scale, rl_stream stream);
/// The same on CUDA cores in fp32, for head_dim 256 (the head dim the tensor-core kernel does
/// not take); attention_prefill_bf16 calls it.
void attention_prefill_simt_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step,
                                 const int32_t* tiles, int n_tiles, int n_heads, float scale, rl_stream stream);
/// Attention of every row of the step (prefill and decode) with an optional sliding window
/// (window > 0: a query at position p sees keys p-window+1 .. p; blocks wholly before it are
/// never read, so the table may hold -1 there) and any head_dim that is a multiple of 8 up to 256.
/// The general path: the backend takes it for windowed layers and for head dims the tuned
/// kernels above do not take (attention_tuned_head_dim).
void attention_window_bf16(const uint16_t* q, uint16_t* out, const paged_kv& kv, const step_meta& step, int n_heads,
                           float scale, int window, rl_stream stream);
bool attention_tuned_head_dim(int head_dim);
/// The argument checks both prefill launchers share; `who` names the launcher in the message.
void check_attention_prefill_args(const uint16_t* q, const uint16_t* out, const paged_kv& kv, const step_meta& step,
                                  const int32_t* tiles, int n_tiles, int n_heads, const char* who);

/// Decode's skinny matmuls (gemv.cu): out_s[n, m_s] = x[n, k] . w_s[m_s, k]^T for up to
/// gemv_max_segments weight matrices sharing x, n <= gemv_max_rows, bf16 x, weights in bf16 or
/// in one GGUF block format (q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k, dequantized in registers:
/// gemv_quant.cu), fp32 accumulation, bf16 or f32 out (all segments alike). GLU mode (glu_out non-null; two
/// segments of equal m, gate then up; their out pointers unused): writes only
/// glu_out[n, m] = bf16(silu(gate) * up) from the bf16-rounded gate and up. Launched with PDL.
constexpr int64_t gemv_max_rows = 8;
constexpr int gemv_max_segments = 3;
struct gemv_segment {
    const void* w = nullptr;  // [m, k] rows in w_type (bf16, or a GGUF block format)
    void* out = nullptr;      // [n, m]
    int64_t m = 0;
    ggml_type w_type = ggml_type::bf16;  // every segment of one call alike
};
/// Optional ends of a GEMV that replace decode's residual kernels. norm_x: x is not read; each
/// row is instead bf16(rms_norm(norm_x row) * norm_w) (norm_x [n, k] f32, norm_w [k] f32 or bf16),
/// as rms_norm would have written it; needs n * k * 2 <= gemv_norm_smem_max. add_to_out (one
/// segment, f32 out): out += bf16(product) instead of out = product, as add would.
/// rope_inv_freq (device, [rope_dim/2]; three segments q, k, v with bf16 out, rope on adjacent
/// pairs (2i, 2i+1), i.e. not neox): q and k rows rotate by each batch row's position in step as
/// rope_bf16 would, and k and v rows also go into kv at the row's slot, as rope_kv_store_bf16
/// (which leaves k unrotated; here the k output holds the rotated rows): decode's rope and KV
/// store ride in the q/k/v product's epilogue. Outputs and pool 4-byte aligned (pairs are stored
/// as one 32-bit word).
struct gemv_ends {
    const float* norm_x = nullptr;
    const void* norm_w = nullptr;
    bool norm_w_bf16 = false;
    float eps = 0.f;
    bool add_to_out = false;
    const float* rope_inv_freq = nullptr;
    int rope_dim = 0;
    paged_kv kv{};
    step_meta step{};
};
// Dynamic shared memory for the normalised rows: the 48 KB a launch may use without opting in,
// less 1 KB for the kernel's static arrays (the two together must fit; n * k * 2 = 48 KB, e.g. a
// 12,288-wide model at 2 rows, would fail to launch).
constexpr int64_t gemv_norm_smem_max = 47 * 1024;
bool gemv_bf16_supported(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k,
                         bool glu = false, const gemv_ends& ends = {});
void gemv_bf16(const uint16_t* x, const gemv_segment* segs, int n_seg, int64_t n, int64_t k, bool out_f32,
               rl_stream stream, uint16_t* glu_out = nullptr, const gemv_ends& ends = {});

/// Fused rope + KV store: rotates q [rows, n_heads*head_dim] in place, and writes k (rotated) and
/// v rows ([rows, n_kv_heads*head_dim]) into the pool at each row's position, in one launch. k
/// itself is left as it was. Same numerics as rope_bf16 twice and kv_store_bf16.
void rope_kv_store_bf16(uint16_t* q, const uint16_t* k, const uint16_t* v, int n_heads, int rope_dim, bool neox,
                        const float* inv_freq, const paged_kv& kv, const step_meta& step, rl_stream stream);

/// cuBLASLt GEMMs on one device: out[n, m] = x[n, k] . w[m, k]^T, bf16 in and out, fp32
/// accumulation. Owns a handle, a workspace and a cache of chosen algorithms per shape.
class gemm_runner {
public:
    gemm_runner();  // on the current device
    ~gemm_runner();
    gemm_runner(const gemm_runner&) = delete;
    gemm_runner& operator=(const gemm_runner&) = delete;
    /// out_f32: out is f32 instead of bf16.
    void bf16_xwt(const uint16_t* x, const uint16_t* w, void* out, int64_t n, int64_t m, int64_t k, rl_stream stream,
                  bool out_f32 = false);
    /// Whether a product of n rows over weight_bytes of weights should go to gemv_bf16 rather
    /// than cuBLASLt: n <= tuning().gemv_max_rows, and past 2 rows only for weights up to
    /// tuning().gemv_large_weights_mib. Our GEMV streams the weights once with no split-K
    /// reduction, which wins while the FMAs per weight (n) are few; past that cuBLASLt's tiles
    /// win, sooner on large matrices (tuning.h).
    bool prefers_gemv(int64_t n, size_t weight_bytes) const;

private:
    struct impl;
    impl* p_ = nullptr;
};

} // namespace rl::kernels
