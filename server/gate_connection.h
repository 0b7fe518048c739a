// gate_connection: one client connection as http_gate holds it between reads (its buffered bytes,
// how far its request has been framed, its deadlines), the raw refusal the gate sends before
// httplib sees a request, and request_stream, the httplib::Stream a
// worker answers one framed request through (reads from the buffer, writes to the socket with a
// timeout). Internal to ridgeline_server; http_gate.cpp is the only user.
// Exercise: tests/test_serve_transport.cpp, tests/test_serve_hostile.cpp (through the gate).
#pragma once
#include "server/request_framing.h"

#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>

namespace rl::gate {

using clock_type = std::chrono::steady_clock;

struct connection {
    int fd = -1;
    std::string in;                  // bytes received and not yet answered
    size_t scanned = 0;              // where the search for the blank line resumes
    size_t lines = 0;                // header lines seen so far
    size_t head_len = 0;             // 0 until the head is complete
    size_t request_len = 0;          // 0 until the whole request is
    head_framing framing;
    std::unique_ptr<chunk_framing> chunks;
    size_t chunk_fed = 0;            // body bytes given to `chunks`
    bool started = false;            // a byte of this request (or a new connection) is awaited/seen
    bool kept_alive = false;         // waiting for a next request on a kept-alive connection
    bool draining = false;           // refused: half-closed, reading to the end before closing
    clock_type::time_point head_deadline, request_deadline, drain_deadline;
};

/// Sends a whole JSON error answer with "Connection: close" (and "Retry-After: 1" for 503) without
/// blocking: a fresh or idle socket's send buffer takes it at once; if not, the client is not
/// reading and loses it.
void send_refusal(int fd, int status, const std::string& json_body);

/// Whether the peer has closed or reset `fd` (without consuming any byte it sent).
bool peer_closed(int fd);

/// One request's bytes, then the socket for the answer.
class request_stream : public httplib::Stream {
public:
    request_stream(connection& c, int write_timeout_s) : c_(c), write_timeout_ms_(write_timeout_s * 1000) {}
    bool is_readable() const override { return pos_ < c_.request_len; }
    bool is_writable() const override;
    ssize_t read(char* ptr, size_t size) override;
    ssize_t write(const char* ptr, size_t size) override;
    void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
    // httplib 0.11 (built without CPPHTTPLIB_USE_POLL) answers 500 to any socket numbered past
    // FD_SETSIZE and uses this only for that check; this stream never select()s, so say none.
    socket_t socket() const override { return c_.fd < FD_SETSIZE ? c_.fd : INVALID_SOCKET; }
    bool said_close = false;

private:
    void address(bool remote, std::string& ip, int& port) const;
    connection& c_;
    int write_timeout_ms_;
    size_t pos_ = 0;
};

} // namespace rl::gate
