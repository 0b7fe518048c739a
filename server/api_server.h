// ApiServer: the HTTP side of ridgeline-serve over one engine. Owns the httplib server and its
// worker pool (a fixed number of connections; beyond it 503), read/write timeouts, the 1 MiB body
// limit, the bearer-key check on /v1/*, JSON error bodies for every error status, and the routes:
// /health, /v1/models, /metrics and the OpenAI completions (openai_routes.h).
// Exercised by tests/test_serve.cpp (in-process, on an ephemeral port).
#pragma once
#include "runtime/engine.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}
class OpenAiRoutes;
class PrometheusExporter;

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                  // 0 = any free port (tests)
    std::string apiKey;               // non-empty: /v1/* needs "Authorization: Bearer KEY"
    int maxConnections = 0;           // worker threads; 0 = 2 * max_num_seqs + 4, at least 8
    // A client silent this long while sending its request (or not reading its answer) loses
    // its connection and worker: slow and half-open clients cannot hold workers for ever.
    int readTimeoutS = 30;
    int writeTimeoutS = 30;
    int keepAliveTimeoutS = 5;        // an idle kept-alive connection is closed after this
    size_t maxBodyBytes = size_t(1) << 20;   // larger bodies: 413 before any parsing
    bool accessLog = false;           // one line per request on stderr
};

class ApiServer {
public:
    ApiServer(rl::engine& eng, std::string modelId, ServeOptions opt);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    /// Binds the socket; returns the port (useful with port 0), or -1 with `error` filled.
    int bind(std::string& error);
    /// Serves until stop(); call after bind(). Join the thread running it before destroying this.
    void run();
    /// Cancels requests in flight and stops run(). Thread-safe.
    void stop();

    const std::string& modelId() const { return mModelId; }
    int maxConnections() const { return mMaxConnections; }

    /// The id /v1/models shows: the file name without .gguf, or synthetic:NAME as given.
    static std::string modelIdFor(const std::string& modelPath);

private:
    void installRoutes();

    rl::engine& mEngine;
    std::string mModelId;
    ServeOptions mOptions;
    int mMaxConnections = 8;
    std::unique_ptr<httplib::Server> mServer;
    std::unique_ptr<PrometheusExporter> mExporter;
    std::unique_ptr<OpenAiRoutes> mRoutes;
    std::mutex mMutex;
    std::condition_variable mCv;
    bool mStopping = false;
    std::thread mCollector;   // feeds the histograms every 2 s between scrapes
};
