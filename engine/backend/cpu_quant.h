// cpu_quant: the CPU backend's products with GGUF block-format weights (q4_0 q4_1 q5_0 q5_1 q8_0
// q4_k q5_k q6_k). Activations are quantized to 16 bits per block of 32 (one fp32 scale a block),
// held as two int8 planes, q = 256 hi + lo, so that the same u8 x s8 instructions as ggml's
// q8_0 / q8_1 do the products: one more instruction and a shift per block buys 256x finer
// activations, and the greedy text follows the fp32 path's up to near ties (8-bit activations
// parted from it at top-2 gaps of 0.2). Each weight block is dotted in integers and scaled once. Kernels: a portable scalar one, AVX2 (maddubs + madd) and AVX-512 VNNI (vpdpbusd
// on 256-bit vectors), picked once at run time from the CPU's features, so one x86-64-v2 build
// uses what it finds. Tested by tests/test_cpu_quant.cpp against dequantize-then-fp32.
#pragma once
#include "gguf/ggml_types.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rl::cpu_quant {

enum class isa { scalar, avx2, avx512_vnni };
const char* isa_name(isa i);
/// The best kernel set this CPU runs (RIDGELINE_CPU_ISA=scalar|avx2 caps it, for comparisons).
isa detected_isa();
/// Whether this CPU can run the kernels of `i` (tests run every level the machine has).
bool isa_supported(isa i);
/// Whether the block format has integer kernels here.
bool has_kernels(ggml_type t);

/// The activation step: a block's q = round(x / d) spans [-kQMax, kQMax], d = max|x| / kQMax.
constexpr int kQMax = 127 * 256;

/// n rows of k activations (k a multiple of 32) as blocks of 32 16-bit values q = 256 hi + lo.
struct q8_rows {
    int64_t n = 0, k = 0;
    std::vector<int8_t> qs;       // [n, k]     hi, in [-127, 127]
    std::vector<int8_t> ql;       // [n, k]     lo, in [-127, 127]
    std::vector<float> d;         // [n, k/32]  max|x| / kQMax over the block
    std::vector<float> s;         // [n, k/32]  d * sum(q) over the block (offsets and mins)
    std::vector<int16_t> sum16;   // [n, k/16]  sum(hi) over each 16 (q6_k's per-16 offset)
    std::vector<int16_t> sum16l;  // [n, k/16]  sum(lo) over each 16
    const int8_t* row_qs(int64_t i) const { return qs.data() + i * k; }
    const int8_t* row_ql(int64_t i) const { return ql.data() + i * k; }
    const float* row_d(int64_t i) const { return d.data() + i * (k / 32); }
    const float* row_s(int64_t i) const { return s.data() + i * (k / 32); }
    const int16_t* row_sum16(int64_t i) const { return sum16.data() + i * (k / 16); }
    const int16_t* row_sum16l(int64_t i) const { return sum16l.data() + i * (k / 16); }
};

/// Rows [r0, r1) of x [n, k] into q (q sized for n x k by the caller: resize_q8).
void resize_q8(q8_rows& q, int64_t n, int64_t k);
void quantize_rows(const float* x, int64_t r0, int64_t r1, q8_rows& q);

/// A product's weight: rows of ggml blocks, row_bytes apart.
struct block_weight {
    ggml_type type;
    const uint8_t* data;
    size_t row_bytes;
    int64_t k;  // row length in elements
};

/// out[i * ldo + r] = dot(w row r, activation row i) for r in [r0, r1), i in [0, a.n).
void gemv_rows(const block_weight& w, const q8_rows& a, int64_t r0, int64_t r1, float* out, int64_t ldo,
               isa level);

// The per-level kernel tables (cpu_quant.cpp and one .cpp per instruction set).
using gemv_fn = void (*)(const block_weight&, const q8_rows&, int64_t, int64_t, float*, int64_t);
gemv_fn scalar_kernel(ggml_type t);
gemv_fn avx2_kernel(ggml_type t);
gemv_fn vnni_kernel(ggml_type t);

} // namespace rl::cpu_quant
