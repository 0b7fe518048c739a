// http_gate.cpp: see http_gate.h. Threads: httplib's accept loop (its TaskQueue runs each job
// inline: the job only hands the socket over), one gate thread (poll over every held connection
// plus a wake pipe) and `workers` worker threads. A connection belongs to exactly one of them at a
// time: the gate's list, the ready queue, or one worker.
#include "server/http_gate.h"

#include "server/gate_connection.h"
#include "server/request_framing.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rl {

namespace {

using gate::clock_type;
using gate::connection;
using gate::peer_closed;
using gate::request_stream;

thread_local request_stream* current_stream = nullptr;
thread_local int current_fd = -1;

// httplib's accept loop enqueues one job per socket; the job (our process_and_close_socket) only
// hands the socket to the gate, so it runs inline.
class inline_queue : public httplib::TaskQueue {
public:
    explicit inline_queue(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override { on_shutdown_(); }

private:
    std::function<void()> on_shutdown_;
};

} // namespace

struct gated_server::impl {
    gated_server& server;
    gate_limits limits;
    gate_error_body error_body;
    int wake[2] = {-1, -1};
    std::thread gate;
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::unique_ptr<connection>> inbox;     // new or kept-alive, for the gate
    std::deque<std::unique_ptr<connection>> ready;      // complete requests, for the workers
    int busy = 0;
    bool stopping = false;
    bool started = false;
    std::atomic<int> open{0};                           // sockets owned anywhere in here
    std::atomic<int> held{0};                           // in the gate's list
    // Gate thread only:
    std::vector<std::unique_ptr<connection>> conns;
    size_t buffered = 0;

    impl(gated_server& s, gate_limits l, gate_error_body b) : server(s), limits(l), error_body(std::move(b)) {}

    void start() {
        std::lock_guard lk(mutex);
        if (started) return;
        started = true;
        if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) wake[0] = wake[1] = -1;
        gate = std::thread([this] { gate_loop(); });
        for (int i = 0; i < std::max(1, limits.workers); ++i) workers.emplace_back([this] { worker_loop(); });
    }

    void shutdown() {
        {
            std::lock_guard lk(mutex);
            if (!started || stopping) return;
            stopping = true;
        }
        poke();
        cv.notify_all();
        gate.join();
        for (auto& t : workers) t.join();
        for (auto& c : ready) close_now(*c);
        for (auto& c : inbox) close_now(*c);
        ready.clear();
        inbox.clear();
        if (wake[0] >= 0) ::close(wake[0]), ::close(wake[1]);
    }

    void poke() {
        if (wake[1] >= 0) {
            const char b = 1;
            [[maybe_unused]] ssize_t n = ::write(wake[1], &b, 1);
        }
    }

    void close_now(connection& c) {
        if (c.fd < 0) return;
        ::shutdown(c.fd, SHUT_RDWR);
        ::close(c.fd);
        c.fd = -1;
        --open;
    }

    void adopt(int fd) {
        if (open.load() >= limits.max_open) {
            // Answer and close without draining: keeping it even briefly would defeat the cap.
            auto c = std::make_unique<connection>();
            c->fd = fd;
            ++open;
            send_refusal(*c, 503, "server at capacity: " + std::to_string(limits.max_open) + " connections are open",
                         "server_busy", "too_many_connections");
            close_now(*c);
            return;
        }
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        auto c = std::make_unique<connection>();
        c->fd = fd;
        ++open;
        {
            std::lock_guard lk(mutex);
            if (stopping) return close_now(*c);
            inbox.push_back(std::move(c));
        }
        poke();
    }

    void send_refusal(connection& c, int status, const std::string& message, const std::string& type,
                      const std::string& code) {
        gate::send_refusal(c.fd, status, error_body(status, message, type, code));
    }

    // Gate thread: answer, half-close, drain for up to 2 s so the answer is not lost to a reset.
    void refuse(connection& c, int status, const std::string& message, const std::string& type, const std::string& code) {
        send_refusal(c, status, message, type, code);
        ::shutdown(c.fd, SHUT_WR);
        buffered -= c.in.size();
        c.in.clear();
        c.in.shrink_to_fit();
        c.draining = true;
        c.drain_deadline = clock_type::now() + std::chrono::seconds(2);
    }

    void arm(connection& c, clock_type::time_point now) {
        c.started = true;
        c.head_deadline = now + std::chrono::seconds(c.kept_alive ? limits.keep_alive_timeout_s : limits.head_timeout_s);
        c.request_deadline = now + std::chrono::seconds(std::max(limits.head_timeout_s, limits.request_timeout_s));
    }

    // Gate thread: what the bytes so far say. Returns true when the request went to a worker.
    bool advance(std::unique_ptr<connection>& cp, clock_type::time_point now) {
        connection& c = *cp;
        if (c.kept_alive && !c.in.empty()) {   // a next request begins: the head timeout applies
            c.kept_alive = false;
            arm(c, now);
        }
        if (c.head_len == 0) {
            const size_t from = c.scanned > 3 ? c.scanned - 3 : 0;
            const size_t end = c.in.find("\r\n\r\n", from);
            const size_t upto = end == std::string::npos ? c.in.size() : end + 4;
            for (size_t i = c.scanned; i < upto; ++i) c.lines += c.in[i] == '\n';
            c.scanned = upto;
            // request line + headers + blank line
            if (c.lines > size_t(limits.max_headers) + 2 || upto > limits.max_head_bytes) {
                refuse(c, 431,
                       "request headers exceed the limit of " + std::to_string(limits.max_headers) + " lines or " +
                           std::to_string(limits.max_head_bytes) + " bytes",
                       "invalid_request_error", "request_header_fields_too_large");
                return false;
            }
            if (end == std::string::npos) return false;
            c.head_len = upto;
            c.framing = parse_head_framing(c.in.substr(0, c.head_len), limits.max_body_bytes);
            if (!c.framing.error.empty()) {
                refuse(c, 400, c.framing.error, "invalid_request_error", "bad_framing");
                return false;
            }
            if (c.framing.too_large) {
                refuse(c, 413, "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes",
                       "invalid_request_error", "payload_too_large");
                return false;
            }
            if (c.framing.body == head_framing::body_kind::chunked)
                c.chunks = std::make_unique<chunk_framing>(limits.max_body_bytes, limits.max_head_bytes);
            if (c.framing.expect_continue) {
                // The client waits for this before it sends the body, and the gate waits for the
                // body: answer it here, and hide the header from httplib so it is not sent twice.
                c.in[c.framing.expect_at] = 'X';
                if (c.framing.body != head_framing::body_kind::none) {
                    static const char k_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    [[maybe_unused]] ssize_t n = ::send(c.fd, k_continue, sizeof k_continue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                }
            }
        }
        switch (c.framing.body) {
        case head_framing::body_kind::none: c.request_len = c.head_len; break;
        case head_framing::body_kind::length:
            if (c.in.size() - c.head_len >= c.framing.content_length) c.request_len = c.head_len + c.framing.content_length;
            break;
        case head_framing::body_kind::chunked: {
            size_t used = 0;
            const size_t at = c.head_len + c.chunk_fed;
            const auto r = c.chunks->feed(c.in.data() + at, c.in.size() - at, used);
            c.chunk_fed += used;
            if (r == chunk_framing::result::too_large) {
                refuse(c, 413, "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes",
                       "invalid_request_error", "payload_too_large");
                return false;
            }
            if (r == chunk_framing::result::malformed) {
                refuse(c, 400, "malformed chunked body", "invalid_request_error", "bad_framing");
                return false;
            }
            if (r == chunk_framing::result::complete) c.request_len = c.head_len + c.chunk_fed;
            break;
        }
        }
        if (c.request_len == 0) return false;
        std::unique_lock lk(mutex);
        if (busy + int(ready.size()) >= std::max(1, limits.workers)) {
            lk.unlock();
            refuse(c, 503, "server at capacity: " + std::to_string(limits.workers) + " requests are being answered",
                   "server_busy", "too_many_connections");
            return false;
        }
        buffered -= c.in.size();
        ready.push_back(std::move(cp));
        lk.unlock();
        cv.notify_one();
        return true;
    }

    // Gate thread: read what the socket has. Returns false when the connection is to be dropped.
    bool on_readable(std::unique_ptr<connection>& cp, clock_type::time_point now, bool& dispatched) {
        connection& c = *cp;
        char buf[16384];
        for (int rounds = 0; rounds < 16; ++rounds) {   // then let the others have a turn
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n == 0) return false;   // the client hung up (mid-request: nobody to answer)
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            if (c.draining) continue;
            if (buffered + size_t(n) > limits.max_buffered_bytes) {
                refuse(c, 503, "server at capacity: too many request bytes are buffered", "server_busy",
                       "too_many_connections");
                return true;
            }
            c.in.append(buf, size_t(n));
            buffered += size_t(n);
            if (c.head_len == 0 || c.request_len == 0) {
                if ((dispatched = advance(cp, now)) || c.draining) return true;
            }
        }
        return true;
    }

    void gate_loop() {
        std::vector<pollfd> fds;
        for (;;) {
            const auto now = clock_type::now();
            {
                std::lock_guard lk(mutex);
                if (stopping) break;
                for (auto& c : inbox) {
                    buffered += c->in.size();
                    if (!c->started) arm(*c, now);
                    conns.push_back(std::move(c));
                }
                inbox.clear();
            }
            // Deadlines, and requests already complete in the buffer (pipelined).
            for (auto& c : conns) {
                if (!c) continue;
                if (c->draining) {
                    if (now >= c->drain_deadline) close_now(*c), c.reset();
                    continue;
                }
                if (c->head_len == 0 && !c->in.empty() && c->scanned < c->in.size()) {
                    if (advance(c, now)) continue;
                }
                if (c->request_len == 0 && now >= (c->head_len ? c->request_deadline : c->head_deadline)) {
                    if (c->kept_alive && c->in.empty()) close_now(*c), c.reset();   // idle: no answer due
                    else refuse(*c, 408, "the request did not arrive in time", "invalid_request_error", "request_timeout");
                }
            }
            std::erase_if(conns, [this](const std::unique_ptr<connection>& c) {
                if (c && c->fd < 0) buffered -= c->in.size();
                return !c || c->fd < 0;
            });
            held = int(conns.size());
            fds.assign(1, pollfd{wake[0], POLLIN, 0});
            auto next = now + std::chrono::seconds(1);
            for (auto& c : conns) {
                fds.push_back(pollfd{c->fd, POLLIN, 0});
                next = std::min(next, c->draining ? c->drain_deadline
                                                  : (c->head_len ? c->request_deadline : c->head_deadline));
            }
            const int wait_ms = int(std::clamp<int64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1, 0, 1000));
            if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) break;
            if (fds[0].revents & POLLIN) {
                char drain[64];
                while (::read(wake[0], drain, sizeof drain) > 0) {
                }
            }
            const auto t = clock_type::now();
            for (size_t i = 1; i < fds.size(); ++i) {
                auto& c = conns[i - 1];
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                bool dispatched = false;
                if (!on_readable(c, t, dispatched)) {
                    buffered -= c->in.size();
                    close_now(*c);
                    c.reset();
                } else if (dispatched) {
                    c.reset();   // moved to the ready queue (its bytes already left `buffered`)
                }
            }
            std::erase_if(conns, [](const std::unique_ptr<connection>& c) { return !c; });
        }
        for (auto& c : conns) close_now(*c);
        conns.clear();
        held = 0;
    }

    void worker_loop() {
        for (;;) {
            std::unique_ptr<connection> c;
            {
                std::unique_lock lk(mutex);
                cv.wait(lk, [this] { return stopping || !ready.empty(); });
                if (ready.empty()) return;
                c = std::move(ready.front());
                ready.pop_front();
                ++busy;
            }
            bool keep = serve_one(*c);
            std::unique_lock lk(mutex);
            --busy;
            if (keep && !stopping) {
                inbox.push_back(std::move(c));
                lk.unlock();
                poke();
            } else {
                lk.unlock();
                close_now(*c);
            }
        }
    }

    bool serve_one(connection& c) {
        request_stream strm(c, limits.write_timeout_s);
        bool closed = false;
        current_stream = &strm;
        current_fd = c.fd;
        const bool ok = server.serve(strm, false, closed);
        current_stream = nullptr;
        current_fd = -1;
        // The next request (pipelined bytes, if any) starts afresh.
        c.in.erase(0, c.request_len);
        c.scanned = c.lines = c.head_len = c.request_len = c.chunk_fed = 0;
        c.chunks.reset();
        c.framing = head_framing{};
        c.kept_alive = true;
        c.started = false;
        return ok && !closed && !strm.said_close;
    }
};

gated_server::gated_server(gate_limits limits, gate_error_body error_body)
    : impl_(std::make_unique<impl>(*this, limits, std::move(error_body))) {
    new_task_queue = [this] {
        impl_->start();
        return new inline_queue([this] { impl_->shutdown(); });
    };
    // A handler that answered "Connection: close" (a refusal with its body unread) ends the
    // connection; httplib 0.11 itself only looks at the request's header.
    set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
        if (current_stream && res.get_header_value("Connection") == "close") current_stream->said_close = true;
    });
}

gated_server::~gated_server() { impl_->shutdown(); }

bool gated_server::client_disconnected() { return current_fd >= 0 && peer_closed(current_fd); }

int gated_server::held_connections() const { return impl_->held.load(); }

bool gated_server::process_and_close_socket(socket_t sock) {
    impl_->adopt(sock);
    return true;
}

bool gated_server::serve(httplib::Stream& strm, bool close_connection, bool& connection_closed) {
    return process_request(strm, close_connection, connection_closed, nullptr);
}

} // namespace rl
