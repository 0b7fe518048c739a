// openai_routes: the handlers of POST /v1/chat/completions and POST /v1/completions (plain and
// server-sent events). Each choice (n per prompt, each prompt of a batch) becomes one engine
// request whose conversation_id is kOwnerApiBit | a counter, so API clients show as their own
// owners in plots and the KV map.
// Exercised by tests/test_serve.cpp.
#pragma once
#include "runtime/engine.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace rl {

class prometheus_exporter;
struct json_vocabulary;

class openai_routes {
public:
    openai_routes(engine& eng, std::string model_id, prometheus_exporter* exporter);
    void install(httplib::Server& server);

    /// API requests submitted and not yet ended (the /metrics idle check).
    int in_flight() const;
    /// Cancels every request in flight (shutdown): their handlers then answer and return.
    void cancel_all();
    /// From now on every completion request gets 503 (a draining shutdown).
    void stop_admitting() { admitting_ = false; }

private:
    void handle_completion(const httplib::Request& req, httplib::Response& res, bool chat);
    uint64_t track(uint64_t request_id);
    /// The vocabulary as json_object's mask reads it, built at the first such request.
    std::shared_ptr<const json_vocabulary> json_vocab();
    void untrack(uint64_t request_id);

    engine& engine_;
    std::string model_id_;
    prometheus_exporter* exporter_;
    std::atomic<uint64_t> counter_{0};
    std::atomic<bool> admitting_{true};
    mutable std::mutex mutex_;
    std::unordered_set<uint64_t> active_;   // engine request ids
    std::shared_ptr<const json_vocabulary> json_vocab_;  // guarded by mutex_
};

} // namespace rl
