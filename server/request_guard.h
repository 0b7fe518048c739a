// request_guard: the checks that keep web pages out of a local API server, pure so they test
// without a socket. A page the user visits can send requests to 127.0.0.1 in two ways the
// browser does not stop: "simple" cross-origin POSTs (text/plain, form bodies: no CORS preflight)
// and DNS rebinding (a name of the page's own that later resolves to 127.0.0.1: the request then
// carries the page's Host). So a POST with a simple body type is refused, and a server bound to a
// loopback address answers only to loopback names (and --allowed-host ones).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace rl {

struct guard_refusal {
    int status = 0;        // 403 (Host) or 415 (Content-Type)
    std::string message;   // one line, names the value and the way out
    std::string code;      // OpenAI-style error code
};

/// True for 127.0.0.0/8, ::1, [::1] and localhost (any case).
bool is_loopback_name(const std::string& host);
/// The host part of a Host header: "localhost:8080" -> "localhost", "[::1]:80" -> "::1", lowercased.
std::string host_of_header(const std::string& host_header);

/// nullopt when the request may go on. bind_host: the address the server listens on;
/// allowed_hosts: extra names it answers to ("*" turns the Host check off).
std::optional<guard_refusal> check_request(const std::string& bind_host, const std::vector<std::string>& allowed_hosts,
                                           const std::string& method, const std::string& host_header,
                                           const std::string& content_type);

} // namespace rl
