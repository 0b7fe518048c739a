// request_framing.cpp: see request_framing.h.
#include "server/request_framing.h"

#include <algorithm>
#include <cctype>

namespace rl {

namespace {

std::string lower_trim(std::string s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
    s = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

head_framing parse_head_framing(const std::string& head, uint64_t max_body_bytes) {
    head_framing f;
    bool have_length = false, chunked = false;
    size_t at = head.find('\n');   // skip the request line
    while (at != std::string::npos && at + 1 < head.size()) {
        const size_t start = at + 1;
        const size_t eol = head.find('\n', start);
        if (eol == std::string::npos) break;
        const std::string line = head.substr(start, eol - start);
        at = eol;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;   // the blank line (or junk httplib skips)
        const std::string name = lower_trim(line.substr(0, colon));
        const std::string value = lower_trim(line.substr(colon + 1));
        if (name == "content-length") {
            // Only digits; two different values are a smuggling attempt, not a typo.
            if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                f.error = "Content-Length '" + value.substr(0, 40) + "' is not a number";
                return f;
            }
            const size_t digits = value.size() - std::min(value.find_first_not_of('0'), value.size());
            const uint64_t n = digits > 18 ? UINT64_MAX : std::stoull(value);
            if (have_length && n != f.content_length) {
                f.error = "two different Content-Length headers";
                return f;
            }
            have_length = true;
            f.content_length = n;
        } else if (name == "transfer-encoding") {
            if (value != "chunked") {
                f.error = "Transfer-Encoding '" + value.substr(0, 40) + "' is not supported (only chunked)";
                return f;
            }
            chunked = true;
        } else if (name == "expect" && value == "100-continue") {
            f.expect_continue = true;
            f.expect_at = start + line.find_first_not_of(" \t");
        }
    }
    if (have_length && chunked) {
        f.error = "both Content-Length and Transfer-Encoding are set";
        return f;
    }
    if (chunked) f.body = head_framing::body_kind::chunked;
    else if (have_length && f.content_length > 0) f.body = head_framing::body_kind::length;
    f.too_large = have_length && f.content_length > max_body_bytes;
    return f;
}

chunk_framing::result chunk_framing::feed(const char* p, size_t n, size_t& used) {
    for (size_t i = 0; i < n; ++i) {
        const char c = p[i];
        switch (s_) {
        case state::size: {
            const int v = hex_value(c);
            if (v >= 0) {
                if (++digits_ > 15) return result::too_large;   // past 2^60: no body is that small
                remaining_ = remaining_ * 16 + uint64_t(v);
            } else if (digits_ == 0) {
                return result::malformed;
            } else if (c == ';' || c == ' ' || c == '\t') {
                s_ = state::ext;
                line_ = 0;
            } else if (c == '\r') {
                s_ = state::size_lf;
            } else {
                return result::malformed;
            }
            break;
        }
        case state::ext:
            if (++line_ > max_line_) return result::malformed;
            if (c == '\r') s_ = state::size_lf;
            break;
        case state::size_lf:
            if (c != '\n') return result::malformed;
            payload_ += remaining_;
            if (payload_ > max_payload_) return result::too_large;
            digits_ = 0;
            line_ = 0;
            s_ = remaining_ == 0 ? state::trailer : state::data;
            break;
        case state::data: {
            const size_t take = size_t(std::min<uint64_t>(remaining_, n - i));
            remaining_ -= take;
            i += take - 1;
            if (remaining_ == 0) s_ = state::data_cr;
            break;
        }
        case state::data_cr:
            if (c != '\r') return result::malformed;
            s_ = state::data_lf;
            break;
        case state::data_lf:
            if (c != '\n') return result::malformed;
            s_ = state::size;
            break;
        case state::trailer:
            if (++trailer_bytes_ > max_line_) return result::malformed;
            if (c == '\r') s_ = state::trailer_lf;
            else ++line_;
            break;
        case state::trailer_lf:
            if (c != '\n') return result::malformed;
            if (line_ == 0) {
                s_ = state::done;
                used = i + 1;
                return result::complete;
            }
            line_ = 0;
            s_ = state::trailer;
            break;
        case state::done: used = i; return result::complete;
        }
    }
    used = n;
    return s_ == state::done ? result::complete : result::more;
}

} // namespace rl
