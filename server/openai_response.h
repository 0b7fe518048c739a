// openai_response: the JSON of completion answers: chunks, choices, usage, and log-probabilities in
// OpenAI's two shapes (chat: `logprobs.content[]` with token, logprob, bytes, top_logprobs;
// /v1/completions' legacy: tokens, token_logprobs, top_logprobs, text_offset). No engine calls.
// Exercised by tests/test_serve_request.cpp (shapes) and tests/openai/ (the official client).
#pragma once
#include "server/generation.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rl {

class tokenizer;

struct response_shape {
    bool chat = true;
    std::string id;
    std::string model;
    int64_t created = 0;
    int logprobs = -1;              // the request's: -1 means "logprobs": null everywhere
    const tokenizer* tok = nullptr; // token pieces for log-probabilities

    /// One streamed chunk holding one choice.
    nlohmann::json chunk(size_t index, const nlohmann::json& delta_or_text, const nlohmann::json& finish_reason,
                         const std::vector<token_report>* tokens = nullptr) const;
    /// The `logprobs` value of a choice for these tokens (null when none were asked for).
    nlohmann::json logprobs_json(const std::vector<token_report>& tokens) const;
    nlohmann::json usage(int prompt_tokens, int completion_tokens) const;
};

/// Seeds of a request's choices: the request's own for the first, then a fixed odd step apart,
/// so each choice draws from its own stream and a seeded request repeats choice by choice.
uint64_t choice_seed(uint64_t seed, size_t choice);

} // namespace rl
