// embedding.cu: token embedding lookup, out[i, :] = table[tokens[i], :] (a bf16 table, or one in a
// GGUF block format decoded on the fly; bf16 rows, or f32 rows for the model's f32 residual stream).
// One CTA per token row; 16-byte copies when the row length and pointers allow, else 2-byte.
// Exercised by tests/test_gpu_kernels.cpp (embed) and, end to end, tests/test_gpu_backend.cpp.
#include "bf16_vec.cuh"
#include "common.cuh"
#include "kernels.h"
#include "launch.cuh"
#include "quant_formats.cuh"

#include <string>

namespace rl::kernels {
namespace {

constexpr uint16_t bf16_nan = 0x7FC0;

__global__ void embed_f32_kernel(const uint16_t* __restrict__ table, int64_t vocab, int64_t d,
                                 const int32_t* __restrict__ tokens, float* __restrict__ out) {
    pdl_wait();
    pdl_trigger();
    const int64_t row = blockIdx.x;
    const int32_t id = tokens[row];
    float* o = out + row * d;
    const bool bad = id < 0 || int64_t(id) >= vocab;
    const uint16_t* src = table + (bad ? 0 : int64_t(id) * d);
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = bad ? __int_as_float(0x7FC00000) : bf16_to_f32(src[c]);
}

template <bool Vec>
__global__ void embed_kernel(const uint16_t* __restrict__ table, int64_t vocab, int64_t d,
                             const int32_t* __restrict__ tokens, uint16_t* __restrict__ out) {
    pdl_wait();
    pdl_trigger();
    const int64_t row = blockIdx.x;
    const int32_t id = tokens[row];
    uint16_t* o = out + row * d;
    // The host validated the ids; an id that is still out of range poisons its row rather than
    // reading outside the table.
    if (id < 0 || int64_t(id) >= vocab) {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = bf16_nan;
        return;
    }
    const uint16_t* src = table + int64_t(id) * d;
    if constexpr (Vec) {
        for (int64_t c = int64_t(threadIdx.x) * 8; c < d; c += int64_t(blockDim.x) * 8)
            *reinterpret_cast<uint4*>(o + c) = *reinterpret_cast<const uint4*>(src + c);
    } else {
        for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = src[c];
    }
}

// A table in a GGUF block format: each thread decodes whole units of the row (quant_formats.cuh)
// into f32 or bf16 output.
template <class Q, bool F32>
__global__ void embed_blocks_kernel(const uint8_t* __restrict__ table, int64_t vocab, int64_t d,
                                    const int32_t* __restrict__ tokens, void* __restrict__ out) {
    pdl_wait();
    pdl_trigger();
    const int64_t row = blockIdx.x;
    const int32_t id = tokens[row];
    const bool bad = id < 0 || int64_t(id) >= vocab;
    const uint8_t* src = table + (bad ? 0 : int64_t(id) * (d / Q::block_elems) * Q::block_bytes);
    for (int u = threadIdx.x; u < int(d / Q::unit_elems); u += blockDim.x) {
        const typename Q::raw r = Q::load(src, u);
#pragma unroll
        for (int p = 0; p < Q::unit_elems / 8; ++p) {
            float w[8];
            Q::piece(r, p, w);
            const int64_t c = row * d + int64_t(u) * Q::unit_elems + 8 * p;
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                if (bad) w[e] = __int_as_float(0x7FC00000);
                if constexpr (F32) static_cast<float*>(out)[c + e] = w[e];
                else static_cast<uint16_t*>(out)[c + e] = f32_to_bf16(w[e]);
            }
        }
    }
}

} // namespace

void embed_blocks(ggml_type type, const void* table, int64_t vocab, int64_t d, const int32_t* tokens, int n,
                  void* out, bool out_f32, rl_stream stream) {
    RL_CHECK(table && tokens && out, "embed_blocks: null pointer");
    RL_CHECK(vocab > 0 && d > 0 && n >= 0, "embed_blocks: bad shape");
    RL_CHECK(aligned16(table), "embed_blocks: the table must be 16-byte aligned");
    if (n == 0) return;
    const bool known = with_format(type, [&](auto q) {
        using Q = decltype(q);
        RL_CHECK(d % Q::block_elems == 0, "embed_blocks: row length " + std::to_string(d) + " is not whole " +
                                              ggml_type_name(type) + " blocks");
        const auto* t8 = static_cast<const uint8_t*>(table);
        if (out_f32) launch(embed_blocks_kernel<Q, true>, unsigned(n), 128, 0, stream, t8, vocab, d, tokens, out);
        else launch(embed_blocks_kernel<Q, false>, unsigned(n), 128, 0, stream, t8, vocab, d, tokens, out);
    });
    RL_CHECK(known, "embed_blocks: no kernel for tables of type " + ggml_type_name(type));
    RL_CUDA_CHECK_LAUNCH();
}

void embed_bf16(const uint16_t* table, int64_t vocab, int64_t d, const int32_t* tokens, int n, uint16_t* out,
                rl_stream stream) {
    RL_CHECK(table && tokens && out, "embed_bf16: null pointer");
    RL_CHECK(vocab > 0 && d > 0 && n >= 0, "embed_bf16: bad shape");
    if (n == 0) return;
    const bool vec = d % 8 == 0 && aligned16(table) && aligned16(out);
    const int threads = 128;
    if (vec) launch(embed_kernel<true>, unsigned(n), threads, 0, stream, table, vocab, d, tokens, out);
    else launch(embed_kernel<false>, unsigned(n), threads, 0, stream, table, vocab, d, tokens, out);
    RL_CUDA_CHECK_LAUNCH();
}

void embed_bf16_f32(const uint16_t* table, int64_t vocab, int64_t d, const int32_t* tokens, int n, float* out,
                    rl_stream stream) {
    RL_CHECK(table && tokens && out, "embed_bf16_f32: null pointer");
    RL_CHECK(vocab > 0 && d > 0 && n >= 0, "embed_bf16_f32: bad shape");
    if (n == 0) return;
    launch(embed_f32_kernel, unsigned(n), 256, 0, stream, table, vocab, d, tokens, out);
    RL_CUDA_CHECK_LAUNCH();
}

} // namespace rl::kernels
