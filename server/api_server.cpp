// api_server.cpp: see api_server.h. The connection cap is a TaskQueue of its own: connections
// beyond the worker count go to a small overflow pool whose threads answer every request 503
// (marked by a thread_local the pre-routing handler reads) instead of queueing without bound.
#include "server/api_server.h"

#include "server/openai_request.h"
#include "server/openai_routes.h"
#include "server/prometheus.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>

using nlohmann::json;

namespace {

thread_local bool tOverflowThread = false;

class ConnectionPool : public httplib::TaskQueue {
public:
    ConnectionPool(size_t workers, size_t overflowWorkers) : mWorkers(workers) {
        for (size_t i = 0; i < workers; ++i) mThreads.emplace_back([this] { work(false); });
        for (size_t i = 0; i < overflowWorkers; ++i) mThreads.emplace_back([this] { work(true); });
    }
    void enqueue(std::function<void()> fn) override {
        {
            std::lock_guard lk(mMutex);
            if (mBusy + mJobs.size() >= mWorkers) mOverflow.push_back(std::move(fn));
            else mJobs.push_back(std::move(fn));
        }
        mCv.notify_all();
    }
    void shutdown() override {
        {
            std::lock_guard lk(mMutex);
            mShutdown = true;
        }
        mCv.notify_all();
        for (auto& t : mThreads) t.join();
    }

private:
    void work(bool overflow) {
        tOverflowThread = overflow;
        auto& jobs = overflow ? mOverflow : mJobs;
        for (;;) {
            std::function<void()> fn;
            {
                std::unique_lock lk(mMutex);
                mCv.wait(lk, [&] { return mShutdown || !jobs.empty(); });
                if (jobs.empty()) return;   // shutting down, nothing left
                fn = std::move(jobs.front());
                jobs.pop_front();
                if (!overflow) ++mBusy;
            }
            fn();
            if (!overflow) {
                std::lock_guard lk(mMutex);
                --mBusy;
            }
        }
    }

    const size_t mWorkers;
    std::mutex mMutex;
    std::condition_variable mCv;
    std::deque<std::function<void()>> mJobs, mOverflow;
    size_t mBusy = 0;
    bool mShutdown = false;
    std::vector<std::thread> mThreads;
};

bool sameSecret(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

void jsonError(httplib::Response& res, int status, const std::string& message, const std::string& type,
               const std::string& code = "") {
    ApiError e{status, message, type, code, ""};
    res.status = status;
    res.set_content(dumpJson(errorBody(e)), "application/json");
}

} // namespace

ApiServer::ApiServer(rl::engine& eng, std::string modelId, ServeOptions opt)
    : mEngine(eng), mModelId(std::move(modelId)), mOptions(std::move(opt)) {
    mMaxConnections = mOptions.maxConnections > 0
                          ? mOptions.maxConnections
                          : std::clamp(2 * mEngine.current_config().max_num_seqs + 4, 8, 256);
    mServer = std::make_unique<httplib::Server>();
    mExporter = std::make_unique<PrometheusExporter>(mEngine, mModelId);
    mRoutes = std::make_unique<OpenAiRoutes>(mEngine, mModelId, mExporter.get());
    installRoutes();
    mCollector = std::thread([this] {
        std::unique_lock lk(mMutex);
        while (!mCv.wait_for(lk, std::chrono::seconds(2), [this] { return mStopping; })) {
            lk.unlock();
            mExporter->collect();
            lk.lock();
        }
    });
}

ApiServer::~ApiServer() {
    stop();
    mCollector.join();
}

std::string ApiServer::modelIdFor(const std::string& modelPath) {
    if (modelPath.rfind("synthetic:", 0) == 0) return modelPath;
    std::string name = modelPath.substr(modelPath.find_last_of('/') == std::string::npos ? 0 : modelPath.find_last_of('/') + 1);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
    return name.empty() ? modelPath : name;
}

int ApiServer::bind(std::string& error) {
    const int port = mOptions.port == 0 ? mServer->bind_to_any_port(mOptions.host)
                                        : (mServer->bind_to_port(mOptions.host, mOptions.port) ? mOptions.port : -1);
    if (port < 0) error = "cannot listen on " + mOptions.host + ":" + std::to_string(mOptions.port) +
                          " (address in use, or not an address of this machine?)";
    return port;
}

void ApiServer::run() { mServer->listen_after_bind(); }

void ApiServer::stop() {
    {
        std::lock_guard lk(mMutex);
        mStopping = true;
    }
    mCv.notify_all();
    mRoutes->cancelAll();
    mServer->stop();
}

void ApiServer::installRoutes() {
    httplib::Server& s = *mServer;
    const size_t workers = size_t(mMaxConnections);
    s.new_task_queue = [workers] { return new ConnectionPool(workers, 2); };
    s.set_read_timeout(mOptions.readTimeoutS, 0);
    s.set_write_timeout(mOptions.writeTimeoutS, 0);
    s.set_keep_alive_timeout(mOptions.keepAliveTimeoutS);
    s.set_payload_max_length(mOptions.maxBodyBytes);

    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (tOverflowThread) {
            res.set_header("Retry-After", "1");
            // Its body (if any) stays unread: ask the client to hang up rather than reuse the socket.
            res.set_header("Connection", "close");
            jsonError(res, 503, "server at capacity: " + std::to_string(mMaxConnections) + " connections are open",
                      "server_busy", "too_many_connections");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!mOptions.apiKey.empty() && req.path.rfind("/v1/", 0) == 0 &&
            !sameSecret(req.get_header_value("Authorization"), "Bearer " + mOptions.apiKey)) {
            res.set_header("WWW-Authenticate", "Bearer");
            jsonError(res, 401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                      "authentication_error", "invalid_api_key");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // Every error status gets a JSON body; handlers that wrote one keep theirs.
    s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        switch (res.status) {
        case 413:
            jsonError(res, 413, "request body exceeds the limit of " + std::to_string(mOptions.maxBodyBytes) + " bytes",
                      "invalid_request_error", "payload_too_large");
            break;
        case 404: jsonError(res, 404, "no route for " + req.method + " " + req.path, "invalid_request_error"); break;
        case 503: jsonError(res, 503, "server unavailable", "server_busy"); break;
        default:
            jsonError(res, res.status, res.status >= 500 ? "internal server error" : "bad request",
                      res.status >= 500 ? "server_error" : "invalid_request_error");
        }
        return httplib::Server::HandlerResponse::Handled;
    }));
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        jsonError(res, 500, "internal error: " + what, "server_error");
    });
    if (mOptions.accessLog) {
        s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
            std::fprintf(stderr, "%s %s %s -> %d\n", req.remote_addr.c_str(), req.method.c_str(), req.path.c_str(),
                         res.status);
        });
    }

    s.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        // The server listens only once the model is loaded, so reaching it means ready.
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        static const int64_t created = int64_t(std::time(nullptr));
        json model = {{"id", mModelId}, {"object", "model"}, {"created", created}, {"owned_by", "ridgeline"},
                      {"max_model_len", mEngine.info().context_length}};
        res.set_content(dumpJson({{"object", "list"}, {"data", json::array({model})}}), "application/json");
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(mExporter->render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    mRoutes->install(s);
}
