// gate_connection.cpp: see gate_connection.h.
#include "server/gate_connection.h"

#include <algorithm>
#include <cerrno>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

namespace rl::gate {

namespace {
std::string status_line(int status) {
    switch (status) {
    case 400: return "400 Bad Request";
    case 408: return "408 Request Timeout";
    case 413: return "413 Payload Too Large";
    case 431: return "431 Request Header Fields Too Large";
    default: return "503 Service Unavailable";
    }
}
} // namespace

void send_refusal(int fd, int status, const std::string& json_body) {
    const std::string r = "HTTP/1.1 " + status_line(status) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(json_body.size()) + "\r\nConnection: close\r\n" +
                          (status == 503 ? "Retry-After: 1\r\n" : "") + "\r\n" + json_body;
    [[maybe_unused]] ssize_t n = ::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool peer_closed(int fd) {
    pollfd p{fd, short(POLLIN | POLLRDHUP), 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

bool request_stream::is_writable() const {
    pollfd p{c_.fd, POLLOUT, 0};
    return ::poll(&p, 1, write_timeout_ms_) > 0 && !(p.revents & (POLLERR | POLLHUP)) && !peer_closed(c_.fd);
}

ssize_t request_stream::read(char* ptr, size_t size) {
    if (pos_ >= c_.request_len) return -1;   // httplib never reads past a request it framed
    const size_t n = std::min(size, c_.request_len - pos_);
    std::copy_n(c_.in.data() + pos_, n, ptr);
    pos_ += n;
    return ssize_t(n);
}

ssize_t request_stream::write(const char* ptr, size_t size) {
    for (;;) {
        const ssize_t n = ::send(c_.fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        pollfd p{c_.fd, POLLOUT, 0};
        if (::poll(&p, 1, write_timeout_ms_) <= 0) return -1;
    }
}

void request_stream::address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    const int rc = remote ? ::getpeername(c_.fd, reinterpret_cast<sockaddr*>(&a), &len)
                          : ::getsockname(c_.fd, reinterpret_cast<sockaddr*>(&a), &len);
    if (rc != 0) return;
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
        ip = host;
    port = a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

} // namespace rl::gate
