// ggml_types: the block geometry of every ggml type id GGUF files use, and row sizes.
// Sizes follow ggml's block structs (ggml-common.h); QK_K = 256 for the K-quants.
#include "gguf/ggml_types.h"
#include "common/engine_error.h"

namespace rl {

ggml_type_traits ggml_traits(uint32_t raw_type) {
    switch (static_cast<ggml_type>(raw_type)) {
    case ggml_type::f32:  return {"f32", 1, 4, true};
    case ggml_type::f16:  return {"f16", 1, 2, true};
    case ggml_type::bf16: return {"bf16", 1, 2, true};
    case ggml_type::q4_0: return {"q4_0", 32, 18, true};   // half d, 16 nibble bytes
    case ggml_type::q4_1: return {"q4_1", 32, 20, true};   // half d, half m, 16 bytes
    case ggml_type::q5_0: return {"q5_0", 32, 22, true};   // half d, u32 qh, 16 bytes
    case ggml_type::q5_1: return {"q5_1", 32, 24, true};   // half d, half m, qh, 16 bytes
    case ggml_type::q8_0: return {"q8_0", 32, 34, true};   // half d, 32 int8
    case ggml_type::q8_1: return {"q8_1", 32, 36, false};  // half d, half s, 32 int8
    case ggml_type::q2_k: return {"q2_k", 256, 84, false};
    case ggml_type::q3_k: return {"q3_k", 256, 110, false};
    case ggml_type::q4_k: return {"q4_k", 256, 144, true};
    case ggml_type::q5_k: return {"q5_k", 256, 176, true};
    case ggml_type::q6_k: return {"q6_k", 256, 210, true};
    case ggml_type::q8_k: return {"q8_k", 256, 292, false}; // float d, 256 int8, 16 int16 sums
    }
    return {nullptr, 0, 0, false};
}

std::string ggml_type_name(ggml_type t) {
    const ggml_type_traits tr = ggml_traits(t);
    if (tr.name) return tr.name;
    return "type(" + std::to_string(static_cast<uint32_t>(t)) + ")";
}

size_t ggml_row_bytes(ggml_type t, int64_t n) {
    const ggml_type_traits tr = ggml_traits(t);
    RL_CHECK(tr.name, "unknown ggml type " + std::to_string(static_cast<uint32_t>(t)));
    RL_CHECK(n >= 0, "negative row length " + std::to_string(n));
    RL_CHECK(n % tr.block_elems == 0, "row length " + std::to_string(n) + " is not a multiple of the " +
                                          tr.name + " block size " + std::to_string(tr.block_elems));
    size_t bytes = 0;
    // Rows come from untrusted dims, so the product must not wrap.
    RL_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(n / tr.block_elems), tr.block_bytes, &bytes),
             "row of " + std::to_string(n) + " " + tr.name + " elements is too large");
    return bytes;
}

} // namespace rl
