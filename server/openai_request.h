// openai_request: the edge where OpenAI JSON becomes typed values. Parses and validates the body of
// /v1/chat/completions and /v1/completions (strict: wrong types and unknown fields are errors),
// and builds the error object {"error": {message, type, code}}. No engine calls here.
// Exercised by tests/test_serve.cpp.
#pragma once
#include "serving/json_schema.h"
#include "serving/sampler.h"
#include "tokenizer/chat_template.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rl {

/// An HTTP error with the OpenAI error body.
struct api_error {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string code;          // e.g. "model_not_found"; empty -> null
    std::string param;         // the offending field; empty -> null
};

nlohmann::json error_body(const api_error& e);
/// nlohmann's dump with invalid UTF-8 replaced, never throwing.
std::string dump_json(const nlohmann::json& j);

/// One /v1/completions prompt: text (special tokens parsed unless parse_special is off) or token ids.
struct api_prompt {
    std::string text;
    std::optional<std::vector<int32_t>> ids;
};

struct api_request {
    bool chat = true;
    std::string model;
    std::vector<chat_message> messages;       // chat
    std::vector<api_prompt> prompts;          // completions: one, or a batch (choices prompt-major)
    bool parse_special = true;                // completions: "parse_special": false keeps "<|im_start|>" as text
    int n = 1;                                // choices per prompt
    int logprobs = -1;                        // -1: none; else log-probabilities with this many alternatives
    bool echo = false;                        // completions: the prompt's text comes first in each choice
    bool json_object = false;                 // response_format {"type": "json_object"}
    std::shared_ptr<const json_schema> schema;  // response_format {"type": "json_schema"}
    std::optional<int> max_tokens;
    sampling_params sampling;                 // unless given: temperature 1, a fresh random seed
    std::vector<std::string> stop;
    bool stream = false;
    bool include_usage = false;               // stream_options.include_usage
};

/// Parses a request body. Returns std::nullopt and fills `err` on any problem.
std::optional<api_request> parse_api_request(const std::string& body, bool chat, api_error& err);

} // namespace rl
