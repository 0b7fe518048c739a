// api_server: the HTTP side of ridgeline-serve over one engine. Owns the server (httplib's request
// handling behind the connection gate of server/http_gate.h, which enforces the limits of
// serve_options), the bearer-key check on /v1/*, JSON error bodies for every error status, and
// the routes: /health, /v1/models (and /v1/models/{id}), /metrics and the OpenAI completions (openai_routes.h).
// Exercised by tests/test_serve.cpp (in-process, on an ephemeral port).
#pragma once
#include "runtime/engine.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rl {

class gated_server;
class openai_routes;
class prometheus_exporter;

struct serve_options {
    std::string host = "127.0.0.1";
    int port = 8080;                  // 0 = any free port (tests)
    std::string api_key;              // non-empty: /v1/* needs "Authorization: Bearer KEY"
    // Requests answered at once (worker threads); a complete request beyond them gets 503.
    // 0 = 2 * max_num_seqs + 4, at least 8. Open connections waiting to send do not count.
    int max_connections = 0;
    int max_open_connections = 1024;  // sockets held open at all; beyond, 503 and closed at once
    // A request's head must arrive within head_timeout_s of the connection (or, kept alive, of
    // its first byte), and the whole request within read_timeout_s; else 408. Absolute, not per
    // read, so a client trickling bytes cannot hold a connection (slowloris).
    int head_timeout_s = 10;
    int read_timeout_s = 30;
    int write_timeout_s = 30;         // a client not reading its answer is dropped after this
    int keep_alive_timeout_s = 5;     // an idle kept-alive connection is closed after this
    size_t max_body_bytes = size_t(1) << 20;   // larger bodies, any transfer encoding: 413 at once
    size_t max_header_bytes = 32 << 10;        // request line + headers; beyond: 431
    int max_headers = 100;                     // header lines; beyond: 431
    bool access_log = false;          // one line per request on stderr
    // Names besides loopback ones a loopback-bound server answers to ("*": any); for a server
    // bound elsewhere, the only names it answers to when non-empty (server/request_guard.h).
    std::vector<std::string> allowed_hosts;
    // drain_and_stop (SIGTERM in ridgeline-serve): how long running requests may go on finishing
    // before they are cancelled.
    int drain_timeout_s = 10;
};

class api_server {
public:
    api_server(engine& eng, std::string model_id, serve_options opt);
    ~api_server();
    api_server(const api_server&) = delete;
    api_server& operator=(const api_server&) = delete;

    /// Binds the socket; returns the port (useful with port 0), or -1 with `error` filled.
    int bind(std::string& error);
    /// Serves until stop(); call after bind(). Join the thread running it before destroying this.
    void run();
    /// Cancels requests in flight and stops run(). Thread-safe; ends a drain_and_stop at once.
    void stop();
    /// Graceful stop: new API requests get 503 at once, running ones may finish for up to
    /// `timeout_s` seconds, then stop(). Returns when run() is told to end. Thread-safe.
    void drain_and_stop(int timeout_s);

    const std::string& model_id() const { return model_id_; }
    int max_connections() const { return max_connections_; }

    /// The id /v1/models shows: the file name without .gguf, or synthetic:NAME as given.
    static std::string model_id_for(const std::string& model_path);

private:
    void install_routes();

    engine& engine_;
    std::string model_id_;
    serve_options options_;
    int max_connections_ = 8;
    std::unique_ptr<gated_server> server_;
    std::unique_ptr<prometheus_exporter> exporter_;
    std::unique_ptr<openai_routes> routes_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread collector_;   // feeds the histograms every 2 s between scrapes
};

} // namespace rl
