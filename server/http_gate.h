// http_gate: the connection side of the API server, so that no worker thread ever waits for a
// client to send. httplib 0.11 gives each connection a worker from accept to close, so 40 slow
// sockets stalled it. Here httplib's own accept loop hands each socket to one gate thread, which
// holds every connection in a poll() loop and reads each request whole (head and body) under
// limits; only a complete request goes to a worker, which runs httplib's request processing
// (routing, handlers, streaming) over the buffered bytes and writes its answer to the socket. A
// kept-alive connection then goes back to the gate. The gate answers on its own:
//   408  the head (or the whole request) did not arrive in time;
//   431  the head is too large or has too many header lines;
//   413  Content-Length, or a chunked body's payload so far, is over the body limit (at once:
//        nothing more is buffered);
//   400  malformed framing (two Content-Lengths, an unknown Transfer-Encoding, bad chunks);
//   503  every worker is answering a request, or too many connections or bytes are held.
// After a refusal the connection is half-closed and drained for a moment (so the client sees the
// answer rather than a reset), then closed. Exercised by tests/test_serve_hostile.cpp.
#pragma once
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

namespace rl {

struct gate_limits {
    size_t max_head_bytes = 32 << 10;   // request line + headers + blank line
    int max_headers = 100;
    size_t max_body_bytes = size_t(1) << 20;
    int head_timeout_s = 10;            // a new connection's (or request's) first byte to its blank line
    int request_timeout_s = 30;         // ... to the last byte of its body
    int keep_alive_timeout_s = 5;       // an idle kept-alive connection is closed (silently) after this
    int write_timeout_s = 30;           // a client not reading its answer is dropped after this
    int workers = 8;                    // requests answered at once
    int max_open = 1024;                // connections held open; beyond this, 503 at once
    size_t max_buffered_bytes = size_t(256) << 20;   // all incomplete requests together
};

/// Builds an error body: status, message, OpenAI error type, code.
using gate_error_body =
    std::function<std::string(int status, const std::string& message, const std::string& type, const std::string& code)>;

class gated_server : public httplib::Server {
public:
    gated_server(gate_limits limits, gate_error_body error_body);
    ~gated_server() override;

    /// From a route handler or content provider: true once the client of the request this thread
    /// is answering has hung up (FIN, reset). False outside a request.
    static bool client_disconnected();
    /// Connections the gate holds now (waiting for a request to complete, or kept alive).
    int held_connections() const;

private:
    bool process_and_close_socket(socket_t sock) override;
    bool serve(httplib::Stream& strm, bool close_connection, bool& connection_closed);

    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace rl
