// random_blocks.h: random weights in a GGUF block format for the kernel tests (CPU and GPU):
// every quant bit pattern, with finite f16 scale fields.
#pragma once
#include "gguf/dequant.h"
#include "gguf/ggml_types.h"

#include <cstdint>
#include <random>
#include <vector>

namespace rl_test_blocks {

/// rows x cols weights in a GGUF block format: uniform quant bytes, and each block's f16 scale
/// fields (d; m or dmin where the format has one; q6_k's d at its end) finite, in [-scale, scale).
inline std::vector<uint8_t> random_blocks(rl::ggml_type t, int64_t rows, int64_t cols, std::mt19937& rng,
                                          float scale = 0.02f) {
    const auto tr = rl::ggml_traits(t);
    std::vector<uint8_t> raw(size_t(rows) * rl::ggml_row_bytes(t, cols));
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : raw) b = uint8_t(byte(rng));
    std::uniform_real_distribution<float> d(-scale, scale);
    auto put = [&](size_t off) {
        const uint16_t h = rl::fp32_to_fp16(d(rng));
        raw[off] = uint8_t(h & 0xFF), raw[off + 1] = uint8_t(h >> 8);
    };
    for (size_t b = 0; b < raw.size(); b += tr.block_bytes) {
        switch (t) {
        case rl::ggml_type::q6_k: put(b + 208); break;
        case rl::ggml_type::q4_1: case rl::ggml_type::q5_1:
        case rl::ggml_type::q4_k: case rl::ggml_type::q5_k: put(b), put(b + 2); break;
        default: put(b); break;
        }
    }
    return raw;
}

} // namespace rl_test_blocks
