// json_schema.cpp: see json_schema.h. A stack of frames, one per open value. Phases: object 0 after
// '{', 1 after a key (':' next), 2 after a value (',' or '}'), 3 after ',' (a key next), 4 inside a
// value; array 0 after '[', 1 inside an item, 2 after an item; string 0 plain, 1 after '\', 2 in
// \uXXXX, 3 in a UTF-8 character; number 0 '-', 1 a leading 0, 2 integer digits, 3 '.', 4 fraction
// digits, 5 'e', 6 exponent sign, 7 exponent digits. A number or literal that may end is closed by
// the first byte that cannot extend it, which then goes to the enclosing value.
#include "serving/json_schema.h"

namespace rl {

namespace {
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
} // namespace

json_schema_matcher::json_schema_matcher(const json_schema* schema) : schema_(schema) {
    stack_.push_back(frame{frame_type::value});
}

bool json_schema_matcher::feed(std::string_view s) {
    for (char c : s)
        if (!feed(c)) return false;
    return true;
}

bool json_schema_matcher::feed(char c) { return !stack_.empty() && feed_frame(c); }

bool json_schema_matcher::push(frame f) {
    if (stack_.size() >= kMaxDepth) return false;
    stack_.push_back(f);
    return true;
}

bool json_schema_matcher::literal_done(const frame& f) const {
    if (f.key) return f.index == f.key->size();
    const auto& lits = schema_->nodes[size_t(f.node)].literals;
    for (size_t i = 0; i < lits.size(); ++i)
        if ((f.live >> i & 1) && lits[i].size() == f.index) return true;
    return false;
}

bool json_schema_matcher::number_can_end(const frame& f) const {
    return f.phase == 1 || f.phase == 2 || f.phase == 4 || f.phase == 7;
}

bool json_schema_matcher::complete() const {
    if (stack_.empty()) return true;
    if (stack_.size() != 1) return false;
    const frame& f = stack_.back();
    return (f.type == frame_type::number && number_can_end(f)) || (f.type == frame_type::literal && literal_done(f));
}

void json_schema_matcher::value_done() {
    stack_.pop_back();
    if (stack_.empty()) return;
    frame& p = stack_.back();
    if (p.type == frame_type::object) p.phase = (p.phase == 0 || p.phase == 3) ? 1 : 2;
    else if (p.type == frame_type::array) p.phase = 2;
}

bool json_schema_matcher::pop_and_refeed(char c) {
    value_done();
    return !stack_.empty() && feed_frame(c);
}

bool json_schema_matcher::start_value(int node, char c) {
    const schema_node& n = schema_->nodes[size_t(node)];
    frame& f = stack_.back();
    f = frame{frame_type::value, 0, 0, node};
    switch (n.k) {
    case schema_node::kind::object:
        if (c != '{') return false;
        f.type = frame_type::object;
        return true;
    case schema_node::kind::array:
        if (c != '[') return false;
        f.type = frame_type::array;
        return true;
    case schema_node::kind::string:
        if (c != '"') return false;
        f.type = frame_type::string;
        return true;
    case schema_node::kind::number:
    case schema_node::kind::integer:
        f.type = frame_type::number;
        if (c == '-') f.phase = 0;
        else if (c == '0') f.phase = 1;
        else if (c >= '1' && c <= '9') f.phase = 2;
        else return false;
        return true;
    default:  // literals (the edge turns boolean and null into literals too)
        f.type = frame_type::literal;
        f.live = n.literals.size() >= 64 ? ~uint64_t(0) : (uint64_t(1) << n.literals.size()) - 1;
        return feed_frame(c);
    }
}

bool json_schema_matcher::feed_frame(char c) {
    frame& f = stack_.back();
    const schema_node& n = schema_->nodes[size_t(f.node)];
    const bool ws_ok = f.type == frame_type::value || f.type == frame_type::object ||
                       (f.type == frame_type::array && f.phase != 1);
    if (ws_ok) {
        if (is_ws(c)) return ++ws_run_ <= kMaxWhitespace;
        ws_run_ = 0;
    }
    switch (f.type) {
    case frame_type::value: return start_value(f.node, c);
    case frame_type::object: {
        const size_t count = n.properties.size();
        auto key = [&]() {
            f.phase = f.phase == 0 ? 0 : 3;
            frame k{frame_type::literal, 0, 0, f.node};
            k.key = &n.properties[f.index].first;
            k.live = 1;
            return push(k) && feed_frame(c);
        };
        switch (f.phase) {
        case 0:
            if (c == '}' && count == 0) return value_done(), true;
            return c == '"' && count > 0 && key();
        case 1:
            if (c != ':') return false;
            f.phase = 4;
            return push(frame{frame_type::value, 0, 0, n.properties[f.index].second});
        case 2:
            if (c == ',' && f.index + 1 < count) {
                ++f.index;
                f.phase = 3;
                return true;
            }
            if (c == '}' && f.index + 1 == count) return value_done(), true;
            return false;
        case 3: return c == '"' && key();
        default: return false;
        }
    }
    case frame_type::array:
        if (f.phase == 0 && c == ']') return value_done(), true;
        if (f.phase == 2) {
            if (c == ']') return value_done(), true;
            if (c != ',') return false;
            f.phase = 1;
            return push(frame{frame_type::value, 0, 0, n.items});
        }
        f.phase = 1;
        return push(frame{frame_type::value, 0, 0, n.items}) && feed_frame(c);
    case frame_type::string: {
        const auto u = static_cast<unsigned char>(c);
        switch (f.phase) {
        case 0:
            if (c == '"') return value_done(), true;
            if (c == '\\') return f.phase = 1, true;
            if (u < 0x20) return false;
            if (u < 0x80) return true;
            if (u >= 0xC2 && u <= 0xDF) f.left = 1;
            else if (u >= 0xE0 && u <= 0xEF) f.left = 2;
            else if (u >= 0xF0 && u <= 0xF4) f.left = 3;
            else return false;
            f.phase = 3;
            return true;
        case 1:
            if (c == 'u') return f.phase = 2, f.left = 4, true;
            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't')
                return f.phase = 0, true;
            return false;
        case 2:
            if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
            if (--f.left == 0) f.phase = 0;
            return true;
        default:
            if ((u & 0xC0) != 0x80) return false;
            if (--f.left == 0) f.phase = 0;
            return true;
        }
    }
    case frame_type::number: {
        const bool integer = n.k == schema_node::kind::integer;
        switch (f.phase) {
        case 0:
            if (c == '0') return f.phase = 1, true;
            if (is_digit(c)) return f.phase = 2, true;
            return false;
        case 3:
            return is_digit(c) && (f.phase = 4, true);
        case 5:
            if (c == '+' || c == '-') return f.phase = 6, true;
            [[fallthrough]];
        case 6:
            return is_digit(c) && (f.phase = 7, true);
        default:  // 1, 2, 4, 7: may end here
            if (is_digit(c) && f.phase != 1) return true;
            if (!integer && c == '.' && (f.phase == 1 || f.phase == 2)) return f.phase = 3, true;
            if (!integer && (c == 'e' || c == 'E') && f.phase != 7) return f.phase = 5, true;
            return pop_and_refeed(c);
        }
    }
    case frame_type::literal: {
        uint64_t next = 0;
        bool all_whole = true;
        if (f.key) {
            if (f.index < f.key->size() && (*f.key)[f.index] == c) next = 1;
            all_whole = f.index + 1 == f.key->size();
        } else {
            for (size_t i = 0; i < n.literals.size() && i < 64; ++i) {
                const std::string& s = n.literals[i];
                if ((f.live >> i & 1) && f.index < s.size() && s[f.index] == c) {
                    next |= uint64_t(1) << i;
                    all_whole = all_whole && s.size() == f.index + 1;
                }
            }
        }
        if (!next) return literal_done(f) && pop_and_refeed(c);
        f.live = next;
        ++f.index;
        if (all_whole) value_done();
        return true;
    }
    }
    return false;
}

} // namespace rl
