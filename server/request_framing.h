// request_framing: where an HTTP/1.1 request ends, decided from its bytes alone and under limits,
// so the connection gate (server/http_gate.h) can buffer a whole request before any worker sees
// it. head_framing reads the header section's framing fields (Content-Length, Transfer-Encoding,
// Expect); chunk_framing walks a chunked body's framing, counting its payload, without decoding
// into a buffer. Both are pure; tests/test_serve_request.cpp exercises them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rl {

/// The framing of one request, from its head (request line + headers + blank line).
struct head_framing {
    enum class body_kind { none, length, chunked };
    body_kind body = body_kind::none;
    uint64_t content_length = 0;
    bool too_large = false;          // Content-Length over the caller's limit (or past 2^63)
    bool expect_continue = false;    // "Expect: 100-continue"
    size_t expect_at = std::string::npos;  // offset of the Expect header's name in the head
    std::string error;               // non-empty: a malformed head (400), names the problem
};

/// head: the bytes up to and including the blank line.
head_framing parse_head_framing(const std::string& head, uint64_t max_body_bytes);

/// Incremental chunked-body framing (RFC 9112 section 7.1), payload counted against a limit.
class chunk_framing {
public:
    enum class result { more, complete, malformed, too_large };
    chunk_framing(uint64_t max_payload, size_t max_line) : max_payload_(max_payload), max_line_(max_line) {}
    /// Feeds n more body bytes; `used` is how many belong to the body (all of them unless complete).
    result feed(const char* p, size_t n, size_t& used);
    uint64_t payload() const { return payload_; }

private:
    enum class state { size, ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done };
    state s_ = state::size;
    uint64_t max_payload_;
    size_t max_line_;
    uint64_t remaining_ = 0, payload_ = 0;
    int digits_ = 0;
    size_t line_ = 0, trailer_bytes_ = 0;
};

} // namespace rl
