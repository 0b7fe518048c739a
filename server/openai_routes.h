// OpenAiRoutes: the handlers of POST /v1/chat/completions and POST /v1/completions (plain and
// server-sent events). Each request becomes one engine request whose conversation_id is
// kOwnerApiBit | a counter, so API clients show as their own owners in plots and the KV map.
// Exercised by tests/test_serve.cpp.
#pragma once
#include "runtime/engine.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

class PrometheusExporter;

class OpenAiRoutes {
public:
    OpenAiRoutes(rl::engine& eng, std::string modelId, PrometheusExporter* exporter);
    void install(httplib::Server& server);

    /// API requests submitted and not yet ended (the /metrics idle check).
    int inFlight() const;
    /// Cancels every request in flight (shutdown): their handlers then answer and return.
    void cancelAll();

private:
    void handleCompletion(const httplib::Request& req, httplib::Response& res, bool chat);
    uint64_t track(uint64_t requestId);
    void untrack(uint64_t requestId);

    rl::engine& mEngine;
    std::string mModelId;
    PrometheusExporter* mExporter;
    std::atomic<uint64_t> mCounter{0};
    mutable std::mutex mMutex;
    std::unordered_set<uint64_t> mActive;   // engine request ids
};
