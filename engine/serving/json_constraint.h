// json_constraint: grammar-constrained sampling for response_format {"type": "json_object"}.
// json_validator is an incremental JSON recogniser (a pushdown automaton over bytes, RFC 8259
// syntax, the top level an object); json_constraint masks every token whose bytes would take the
// output off valid JSON, allows end-of-generation only once the object is closed, and then allows
// nothing else. Pure C++, no tokenizer calls per step (the vocabulary's pieces are read once).
// Exercise: tests/test_json_constraint.cpp.
#pragma once
#include "serving/sampler.h"

#include <algorithm>
#include <array>
#include <limits>
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

/// The mask itself: tries each token's bytes on a copy of the acceptor.
template <class Acceptor>
void mask_tokens(const json_vocabulary& vocab, float* logits, int n_vocab, const Acceptor& v) {
    constexpr float kNo = -std::numeric_limits<float>::infinity();
    const int n = std::min(n_vocab, int(vocab.kind.size()));
    const bool done = v.complete();
    bool any = false;
    for (int id = 0; id < n; ++id) {
        const uint8_t kind = vocab.kind[size_t(id)];
        bool ok;
        if (kind == 1) ok = done;  // end of generation only once the document is whole
        else if (kind == 2 || done) ok = false;
        else {
            Acceptor trial = v;
            ok = trial.feed(vocab.pieces[size_t(id)]);
        }
        if (!ok) logits[id] = kNo;
        else any = any || logits[id] > kNo;
    }
    for (int id = n; id < n_vocab; ++id) logits[id] = kNo;
    // Never leave nothing to draw (a vocabulary without single-byte pieces): let it end instead.
    if (!any)
        for (int id = 0; id < n; ++id)
            if (vocab.kind[size_t(id)] == 1) logits[id] = 0.f;
}

/// Masks every token whose bytes the acceptor (json_validator, json_schema_matcher) refuses in its
/// current state, allows end-of-generation only once it is complete, and then nothing else.
template <class Acceptor>
class grammar_constraint : public token_constraint {
public:
    grammar_constraint(std::shared_ptr<const json_vocabulary> vocab, Acceptor start)
        : vocab_(std::move(vocab)), v_(std::move(start)) {}
    void mask(float* logits, int n_vocab) override { mask_tokens(*vocab_, logits, n_vocab, v_); }
    void accept(int32_t token) override {
        if (token >= 0 && size_t(token) < vocab_->kind.size() && vocab_->kind[size_t(token)] == 0)
            v_.feed(vocab_->pieces[size_t(token)]);
    }
    bool complete() const { return v_.complete(); }

private:
    std::shared_ptr<const json_vocabulary> vocab_;
    Acceptor v_;
};

/// response_format {"type": "json_object"}.
class json_constraint : public grammar_constraint<json_validator> {
public:
    explicit json_constraint(std::shared_ptr<const json_vocabulary> vocab)
        : grammar_constraint(std::move(vocab), json_validator{}) {}
};

} // namespace rl
