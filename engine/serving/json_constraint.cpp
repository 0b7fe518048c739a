// json_constraint.cpp: see json_constraint.h. The mask (mask_tokens, in the header) tries every
// token's bytes on a copy of the validator (a few bytes each, a fixed-size state): tens of
// thousands of short copies per token, small next to a forward pass, and no index over the vocabulary.
#include "serving/json_constraint.h"

#include "tokenizer/tokenizer.h"


namespace rl {

bool json_validator::close_value() {
    state_ = depth_ == 0 ? state::done : state::after_value;
    return true;
}

// A number ends at the first byte that cannot extend it; that byte then belongs to what follows.
bool json_validator::after_number(char c) {
    close_value();
    return feed(c);
}

bool json_validator::feed(std::string_view s) {
    for (char c : s)
        if (!feed(c)) return false;
    return true;
}

bool json_validator::feed(char c) {
    const auto u = static_cast<unsigned char>(c);
    const bool digit = c >= '0' && c <= '9';
    const bool ws_ok = state_ == state::start || state_ == state::value || state_ == state::value_or_close ||
                       state_ == state::key_or_close || state_ == state::key || state_ == state::colon ||
                       state_ == state::after_value;
    if (ws_ok) {
        if (is_ws(c)) return ++ws_run_ <= kMaxWhitespace;
        ws_run_ = 0;
    }
    auto push = [&](char bracket, state next) {
        if (depth_ >= kMaxDepth) return false;
        stack_[size_t(depth_++)] = bracket;
        state_ = next;
        return true;
    };
    auto close = [&](char bracket) {
        if (depth_ == 0 || stack_[size_t(depth_ - 1)] != bracket) return false;
        --depth_;
        return close_value();
    };
    auto begin_value = [&]() {
        switch (c) {
        case '{': return push('{', state::key_or_close);
        case '[': return push('[', state::value_or_close);
        case '"': in_key_ = false; state_ = state::string; return true;
        case '-': state_ = state::minus; return true;
        case '0': state_ = state::zero; return true;
        case 't': literal_ = "rue"; state_ = state::literal; return true;
        case 'f': literal_ = "alse"; state_ = state::literal; return true;
        case 'n': literal_ = "ull"; state_ = state::literal; return true;
        default:
            if (c >= '1' && c <= '9') { state_ = state::int_digits; return true; }
            return false;
        }
    };

    switch (state_) {
    case state::start: return c == '{' && push('{', state::key_or_close);
    case state::value_or_close:
        if (c == ']') return close('[');
        return begin_value();
    case state::value: return begin_value();
    case state::key_or_close:
        if (c == '}') return close('{');
        [[fallthrough]];
    case state::key:
        if (c != '"') return false;
        in_key_ = true;
        state_ = state::string;
        return true;
    case state::colon:
        if (c != ':') return false;
        state_ = state::value;
        return true;
    case state::after_value:
        if (c == ',') {
            state_ = stack_[size_t(depth_ - 1)] == '{' ? state::key : state::value;
            return true;
        }
        if (c == '}') return close('{');
        if (c == ']') return close('[');
        return false;
    case state::string:
        if (c == '"') {
            if (!in_key_) return close_value();
            in_key_ = false;
            state_ = state::colon;
            return true;
        }
        if (c == '\\') { state_ = state::escape; return true; }
        if (u < 0x20) return false;  // control characters must be escaped
        if (u < 0x80) return true;
        // UTF-8: a lead byte, then its continuation bytes (overlong and surrogate forms are not
        // checked; the tokenizer's pieces never produce them from valid text).
        if (u >= 0xC2 && u <= 0xDF) utf8_left_ = 1;
        else if (u >= 0xE0 && u <= 0xEF) utf8_left_ = 2;
        else if (u >= 0xF0 && u <= 0xF4) utf8_left_ = 3;
        else return false;
        state_ = state::utf8;
        return true;
    case state::utf8:
        if ((u & 0xC0) != 0x80) return false;
        if (--utf8_left_ == 0) state_ = state::string;
        return true;
    case state::escape:
        if (c == 'u') {
            hex_left_ = 4;
            state_ = state::unicode;
            return true;
        }
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
            state_ = state::string;
            return true;
        }
        return false;
    case state::unicode:
        if (!(digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
        if (--hex_left_ == 0) state_ = state::string;
        return true;
    case state::minus:
        if (c == '0') state_ = state::zero;
        else if (digit) state_ = state::int_digits;
        else return false;
        return true;
    case state::zero:
    case state::int_digits:
    case state::frac_digits:
        if (digit && state_ != state::zero) return true;
        if (c == '.' && state_ != state::frac_digits) { state_ = state::dot; return true; }
        if (c == 'e' || c == 'E') { state_ = state::exp; return true; }
        return after_number(c);
    case state::dot:
        if (!digit) return false;
        state_ = state::frac_digits;
        return true;
    case state::exp:
        if (c == '+' || c == '-') { state_ = state::exp_sign; return true; }
        [[fallthrough]];
    case state::exp_sign:
        if (!digit) return false;
        state_ = state::exp_digits;
        return true;
    case state::exp_digits:
        if (digit) return true;
        return after_number(c);
    case state::literal:
        if (c != *literal_) return false;
        if (*++literal_ == '\0') return close_value();
        return true;
    case state::done: return false;
    }
    return false;
}

std::shared_ptr<const json_vocabulary> json_vocabulary::from_tokenizer(const tokenizer& tok) {
    auto v = std::make_shared<json_vocabulary>();
    const int n = tok.vocab_size();
    v->pieces.resize(size_t(n));
    v->kind.resize(size_t(n));
    for (int32_t id = 0; id < n; ++id) {
        if (tok.is_end_of_generation(id)) {
            v->kind[size_t(id)] = 1;
            continue;
        }
        const token_attr a = tok.attr(id);
        v->pieces[size_t(id)] = tok.token_to_piece(id);
        const bool text = a == token_attr::normal || a == token_attr::byte;
        v->kind[size_t(id)] = text && !v->pieces[size_t(id)].empty() ? 0 : 2;
    }
    return v;
}

} // namespace rl
