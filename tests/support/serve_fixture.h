// serve_fixture: what the in-process server tests share: one engine over the real default model
// on the CPU backend (max_model_len 512, 4 sequences, 96 KV blocks; test_serve makes its own of
// the same), an rl::api_server on an ephemeral port of it, a chat body, and a bounded wait for
// the engine to drain.
#pragma once
#include "raw_http.h"

#include "runtime/engine.h"
#include "server/api_server.h"

#include <chrono>
#include <csignal>
#include <memory>
#include <thread>

namespace raw_http {

/// The engine the server tests run against (a client hanging up must not kill the process).
inline std::unique_ptr<rl::engine> make_test_engine() {
    std::signal(SIGPIPE, SIG_IGN);
    rl::engine_options o;
    o.model_path = RL_MODEL_PATH;
    o.backend = "cpu";
    o.serving.max_model_len = 512;
    o.calibrate = false;
    o.serving.max_num_seqs = 4;
    o.serving.kv_blocks = 96;
    return rl::engine::create(o);
}

struct Fixture {
    std::unique_ptr<rl::engine> engine = make_test_engine();
};
inline Fixture& fixture() {
    static Fixture f;
    return f;
}

// One rl::api_server on an ephemeral port of the shared engine, running until destroyed.
struct Server {
    std::unique_ptr<rl::api_server> api;
    std::thread thread;
    int port = -1;
    explicit Server(rl::serve_options so = {}) {
        so.port = 0;
        api = std::make_unique<rl::api_server>(*fixture().engine, rl::api_server::model_id_for(RL_MODEL_PATH), so);
        std::string error;
        port = api->bind(error);
        if (port > 0) thread = std::thread([a = api.get()] { a->run(); });
    }
    ~Server() {
        api->stop();
        if (thread.joinable()) thread.join();
    }
    std::string model() const { return api->model_id(); }
};

inline json chat(const std::string& model, int maxTokens, bool stream = false) {
    return {{"model", model}, {"messages", {{{"role", "user"}, {"content", "Tell me a long story about a lighthouse."}}}},
            {"max_tokens", maxTokens}, {"temperature", 0}, {"stream", stream}};
}

// Waits (bounded by the liveness guard) until the engine holds no request and no KV block.
inline bool engineDrained() {
    rl::engine& e = *fixture().engine;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
    while (std::chrono::steady_clock::now() < until) {
        const rl::metrics_snapshot s = e.snapshot();
        if (s.num_requests_running == 0 && s.num_requests_waiting == 0 && s.kv_used == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

} // namespace raw_http
