// request_guard.cpp: see request_guard.h.
#include "server/request_guard.h"

#include <algorithm>
#include <cctype>

namespace rl {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool is_ipv4_loopback(const std::string& h) {
    // 127.a.b.c with four decimal parts of at most three digits each.
    if (h.rfind("127.", 0) != 0) return false;
    int parts = 2, digits = 0;  // "127" and the part being read
    for (size_t i = 4; i < h.size(); ++i) {
        if (h[i] == '.') {
            if (digits == 0) return false;
            ++parts, digits = 0;
        } else if (std::isdigit(static_cast<unsigned char>(h[i])) && ++digits <= 3) {
        } else {
            return false;
        }
    }
    return parts == 4 && digits > 0;
}

} // namespace

bool is_loopback_name(const std::string& host) {
    const std::string h = lower(trim(host));
    return h == "localhost" || h == "::1" || h == "[::1]" || is_ipv4_loopback(h);
}

std::string host_of_header(const std::string& host_header) {
    const std::string h = lower(trim(host_header));
    if (!h.empty() && h[0] == '[') {  // [v6]:port
        const size_t close = h.find(']');
        return close == std::string::npos ? h : h.substr(1, close - 1);
    }
    const size_t colon = h.find(':');
    if (colon != std::string::npos && h.find(':', colon + 1) == std::string::npos) return h.substr(0, colon);
    return h;  // no port, or a bare IPv6 literal
}

std::optional<guard_refusal> check_request(const std::string& bind_host, const std::vector<std::string>& allowed_hosts,
                                           const std::string& method, const std::string& host_header,
                                           const std::string& content_type) {
    const bool any_host = std::find(allowed_hosts.begin(), allowed_hosts.end(), "*") != allowed_hosts.end();
    // A server bound to loopback answers only to loopback names; one bound elsewhere only when a
    // list of names was given. An empty Host (HTTP/1.0) is no rebinding.
    if (!any_host && !host_header.empty() && (is_loopback_name(bind_host) || !allowed_hosts.empty())) {
        const std::string h = host_of_header(host_header);
        const bool listed = std::any_of(allowed_hosts.begin(), allowed_hosts.end(),
                                        [&](const std::string& a) { return lower(trim(a)) == h; });
        if (!listed && !is_loopback_name(h) && h != lower(bind_host))
            return guard_refusal{403,
                                 "Host '" + h + "' is not allowed: this server answers to " +
                                     (is_loopback_name(bind_host) ? std::string("localhost and 127.0.0.1") : bind_host) +
                                     " (a web page may be reaching it through DNS rebinding); add a name with "
                                     "--allowed-host NAME",
                                 "host_not_allowed"};
    }
    if (method == "POST") {
        const std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
        if (type == "text/plain" || type == "application/x-www-form-urlencoded" || type == "multipart/form-data")
            return guard_refusal{415,
                                 "Content-Type '" + type + "' is refused (web pages can send it to any server without "
                                 "asking); send 'Content-Type: application/json'",
                                 "unsupported_media_type"};
    }
    return std::nullopt;
}

} // namespace rl
