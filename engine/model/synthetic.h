// synthetic: model shapes without a file (random weights at real shapes) for benchmarks and
// scale demos: synthetic:llama3-8b, synthetic:smollm2-135m, synthetic:qwen2.5-7b,
// synthetic:llama3-70b (80 layers), synthetic:llama3-70b-4layers (the 70B layer shape, 4 layers),
// and the newer families at their published shapes: synthetic:qwen3-8b, synthetic:qwen3-30b-a3b
// (128 experts, 8 used), synthetic:gemma3-12b, synthetic:phi4-14b, synthetic:mixtral-8x7b-4layers.
// A ":QUANT" suffix makes the weights random GGUF blocks kept natively on the backend, as a file
// quantized that way would be: synthetic:llama3-8b:q4_k_m (llama.cpp's Q4_K_M mix: q6_k for the
// LM head and for attn_v and ffn_down in its "more bits" layers, q4_k elsewhere), :q5_k_m, or
// one type throughout (:q8_0, :q4_0, :q4_1, :q5_0, :q5_1, :q4_k, :q5_k, :q6_k).
#pragma once
#include "backend/backend.h"
#include "model/model_config.h"

#include <string>
#include <vector>

namespace rl {

constexpr const char* kSyntheticPrefix = "synthetic:";
inline bool is_synthetic(const std::string& path) { return path.rfind(kSyntheticPrefix, 0) == 0; }

/// Throws engine_error listing the known names for an unknown one. name without the prefix; a
/// ":QUANT" suffix is checked and kept in the config's name.
model_config synthetic_config(const std::string& name);
std::vector<std::string> synthetic_names();
std::vector<std::string> synthetic_quants();  // "q4_k_m", "q8_0", ...
/// The ":QUANT" suffix of a name ("" when there is none); throws for an unknown one.
std::string synthetic_quant(const std::string& name);
/// The block dtype of a weight of a synthetic quant mix: role is "attn_v", "ffn_down", "output",
/// "token_embd" or any other projection's name; layer and n_layers place it for the _m mixes.
dtype synthetic_weight_dtype(const std::string& quant, const std::string& role, int layer, int n_layers);

} // namespace rl
