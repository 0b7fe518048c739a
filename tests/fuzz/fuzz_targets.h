// fuzz_targets: the entry points shared by the libFuzzer binaries (fuzz_main.cpp, one binary per
// target) and by tests/test_fuzz_regressions.cpp, which replays every committed crash input and
// seed through the very same functions in the ordinary (and the ASan) build.
//
// Contract of each *_one(): returns 0 for every input. Errors the API documents for bad input
// (rl::engine_error; for rl::parse_api_request a filled rl::api_error) are caught inside;
// anything else (another exception, a crash, UB, an ASan report) escapes and is the finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rl_fuzz {

/// GGUF reader + model config + tokenizer/chat template from the file's metadata + dequant.
void gguf_init();
int gguf_one(const uint8_t* data, size_t size);

/// Encode/decode/streaming decode with the real vocabularies (models/vocab/*.gguf, the model).
/// Loads them once; with none found every input is a no-op (tokenizer_loaded() == 0).
void tokenizer_init();
int tokenizer_one(const uint8_t* data, size_t size);
int tokenizer_loaded();

/// chat_template::detect + render on an arbitrary template and messages.
void chat_template_init();
int chat_template_one(const uint8_t* data, size_t size);

/// rl::parse_api_request (server/openai_request.h) for chat and completions bodies.
void openai_request_init();
int openai_request_one(const uint8_t* data, size_t size);

/// Where the model and vocabularies live: $RL_FUZZ_MODELS, else the checkout's models/.
std::string models_dir();

} // namespace rl_fuzz
