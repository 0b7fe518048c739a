// The ggml tensor element types that GGUF files use, with their block geometry.
// Block layouts follow ggml's (see dequant.cpp); sizes here are bytes per block.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rl {

enum class ggml_type : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    bf16 = 30,
};

struct ggml_type_traits {
    const char* name;     // "q4_1"; nullptr when the type id is unknown to us
    int64_t block_elems;  // elements per block (1 for plain floats)
    size_t block_bytes;   // bytes per block
    bool dequantizable;   // dequantize_row supports it
};

/// Traits of a raw type id read from a file; name == nullptr for ids we do not know.
ggml_type_traits ggml_traits(uint32_t raw_type);
inline ggml_type_traits ggml_traits(ggml_type t) { return ggml_traits(static_cast<uint32_t>(t)); }
std::string ggml_type_name(ggml_type t);

/// Bytes taken by a row of n elements; throws engine_error if n is not a multiple of the block.
size_t ggml_row_bytes(ggml_type t, int64_t n);

} // namespace rl
