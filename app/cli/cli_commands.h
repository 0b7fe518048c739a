// ridgeline-cli commands: generate, chat, tokenize. Each takes its parsed arguments (main.cpp
// defines the options on app/options) and returns the process exit code: 0 ok, 1 runtime failure,
// 2 a model that cannot be loaded.
#pragma once
#include "runtime/engine.h"
#include "serving/sampler.h"

#include <string>

/// The engine a terminal command runs: one request at a time, so 4 sequences (not
/// serving_config{}'s 16) are plenty, and the pool auto-sized for them (kv_blocks 0: every
/// sequence a full context) stays a quarter of the size.
inline rl::engine_options cli_engine_options() {
    rl::engine_options o;
    o.serving.max_num_seqs = 4;
    return o;
}

struct generate_args {
    rl::engine_options engine = cli_engine_options();
    rl::sampling_params sampling;
    std::string prompt;
    int max_tokens = 128;
    bool chat = false;   // wrap the prompt in the model's chat template as one user message
    bool json = false;   // one JSON object instead of streamed text
    bool raw_text = false;  // special tokens in the prompt stay text ("<|im_start|>" as 8 pieces)
};

struct chat_args {
    rl::engine_options engine = cli_engine_options();
    rl::sampling_params sampling;
    std::string system;
    int max_tokens = 512;
};

struct tokenize_args {
    std::string model;
    std::string text;
    bool no_special = false;   // special-token text is encoded as plain text
    bool bos = false;
};

int run_generate(const generate_args& args);
int run_chat(const chat_args& args);
int run_tokenize(const tokenize_args& args);
