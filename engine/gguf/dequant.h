// Dequantization of ggml block formats to fp32 (and the fp16/bf16 scalar conversions).
// Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
#pragma once
#include "gguf/ggml_types.h"
#include <cstdint>

namespace rl {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);          // round to nearest even
float bf16_to_fp32(uint16_t b);
uint16_t fp32_to_bf16(float f);          // round to nearest even

/// Dequantizes n elements (a multiple of the type's block) from src into dst.
/// Throws engine_error for unsupported types or a bad n.
void dequantize_row(ggml_type t, const void* src, float* dst, int64_t n);
/// Sub-block j (0..7) of a q4_k/q5_k super-block: its 6-bit scale d and min m, from the 12
/// packed scale bytes q.
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m);

} // namespace rl
