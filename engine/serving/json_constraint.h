// json_constraint: grammar-constrained sampling for response_format {"type": "json_object"}.
// json_validator is an incremental JSON recogniser (a pushdown automaton over bytes, RFC 8259
// syntax, the top level an object); json_constraint masks every token whose bytes would take the
// output off valid JSON, allows end-of-generation only once the object is closed, and then allows
// nothing else. Pure C++, no tokenizer calls per step (the vocabulary's pieces are read once).
// Exercise: tests/test_json_constraint.cpp.
#pragma once
#include "serving/sampler.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rl {

class tokenizer;

class json_validator {
public:
    static constexpr int kMaxDepth = 64;      // nesting beyond this is refused (bounds the state)
    static constexpr int kMaxWhitespace = 16; // consecutive whitespace bytes outside strings

    /// Feeds one byte; false (and the state is then unspecified) when it cannot continue valid JSON.
    bool feed(char c);
    /// Feeds bytes; false at the first one that cannot continue valid JSON.
    bool feed(std::string_view s);
    /// The top-level object is closed.
    bool complete() const { return state_ == state::done; }

private:
    enum class state : uint8_t {
        start,            // before the top-level '{'
        value,            // expecting a value
        value_or_close,   // after '[': a value or ']'
        key_or_close,     // after '{': '"' or '}'
        key,              // after ',' in an object: '"'
        colon,            // after a key
        after_value,      // ',' or the closing bracket
        string,           // inside a string
        escape,           // after '\' in a string
        unicode,          // in \uXXXX (hex_left digits to go)
        utf8,             // in a multi-byte character (utf8_left continuation bytes to go)
        minus,            // after '-'
        zero,             // after a leading 0
        int_digits,
        dot,              // after '.'
        frac_digits,
        exp,              // after 'e' / 'E'
        exp_sign,
        exp_digits,
        literal,          // inside true / false / null
        done,
    };
    bool close_value();   // a value ended: what comes next depends on the container
    bool after_number(char c);
    static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

    state state_ = state::start;
    bool in_key_ = false;          // the string being read is an object key
    uint8_t hex_left_ = 0, utf8_left_ = 0, ws_run_ = 0;
    const char* literal_ = nullptr;  // the rest of "true" / "false" / "null" still expected
    int depth_ = 0;
    std::array<char, kMaxDepth> stack_{};  // '{' or '['
};

/// The vocabulary as the mask reads it, built once per tokenizer and shared by every request.
struct json_vocabulary {
    std::vector<std::string> pieces;   // each token's bytes
    std::vector<uint8_t> kind;         // 0: text, 1: end of generation, 2: never (control, empty)
    static std::shared_ptr<const json_vocabulary> from_tokenizer(const tokenizer& tok);
};

class json_constraint : public token_constraint {
public:
    explicit json_constraint(std::shared_ptr<const json_vocabulary> vocab) : vocab_(std::move(vocab)) {}
    void mask(float* logits, int n_vocab) override;
    void accept(int32_t token) override;
    bool complete() const { return v_.complete(); }

private:
    std::shared_ptr<const json_vocabulary> vocab_;
    json_validator v_;
};

} // namespace rl
