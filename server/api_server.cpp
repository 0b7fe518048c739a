// api_server.cpp: see api_server.h.
#include "server/api_server.h"

#include "server/openai_request.h"
#include "server/openai_routes.h"
#include "server/http_gate.h"
#include "server/prometheus.h"
#include "server/request_guard.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>

using nlohmann::json;

namespace rl {

namespace {

bool same_secret(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

void json_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& code = "", const std::string& param = "") {
    api_error e{status, message, type, code, param};
    res.status = status;
    res.set_content(dump_json(error_body(e)), "application/json");
}

} // namespace

api_server::api_server(engine& eng, std::string model_id, serve_options opt)
    : engine_(eng), model_id_(std::move(model_id)), options_(std::move(opt)) {
    max_connections_ = options_.max_connections > 0
                           ? options_.max_connections
                           : std::clamp(2 * engine_.current_config().max_num_seqs + 4, 8, 256);
    gate_limits limits;
    limits.max_head_bytes = options_.max_header_bytes;
    limits.max_headers = options_.max_headers;
    limits.max_body_bytes = options_.max_body_bytes;
    limits.head_timeout_s = options_.head_timeout_s;
    limits.request_timeout_s = options_.read_timeout_s;
    limits.keep_alive_timeout_s = options_.keep_alive_timeout_s;
    limits.write_timeout_s = options_.write_timeout_s;
    limits.workers = max_connections_;
    limits.max_open = options_.max_open_connections;
    server_ = std::make_unique<gated_server>(limits, [](int status, const std::string& message, const std::string& type,
                                                        const std::string& code) {
        return dump_json(error_body(api_error{status, message, type, code, ""}));
    });
    exporter_ = std::make_unique<prometheus_exporter>(engine_, model_id_);
    routes_ = std::make_unique<openai_routes>(engine_, model_id_, exporter_.get());
    install_routes();
    collector_ = std::thread([this] {
        std::unique_lock lk(mutex_);
        while (!cv_.wait_for(lk, std::chrono::seconds(2), [this] { return stopping_; })) {
            lk.unlock();
            exporter_->collect();
            lk.lock();
        }
    });
}

api_server::~api_server() {
    stop();
    collector_.join();
}

std::string api_server::model_id_for(const std::string& model_path) {
    if (model_path.rfind("synthetic:", 0) == 0) return model_path;
    std::string name = model_path.substr(model_path.find_last_of('/') == std::string::npos ? 0 : model_path.find_last_of('/') + 1);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
    return name.empty() ? model_path : name;
}

int api_server::bind(std::string& error) {
    const int port = options_.port == 0 ? server_->bind_to_any_port(options_.host)
                                        : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port < 0) error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                          " (address in use, or not an address of this machine?)";
    return port;
}

void api_server::run() { server_->listen_after_bind(); }

void api_server::drain_and_stop(int timeout_s) {
    routes_->stop_admitting();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0, timeout_s));
    {
        std::unique_lock lk(mutex_);
        while (!stopping_ && routes_->in_flight() > 0 && std::chrono::steady_clock::now() < until)
            cv_.wait_for(lk, std::chrono::milliseconds(50));
        if (stopping_) return;   // stop() came first (a second signal): it finishes the job
    }
    stop();
}

void api_server::stop() {
    {
        std::lock_guard lk(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    routes_->stop_admitting();
    routes_->cancel_all();
    // Let the cancelled requests answer before the sockets close: a stream writes its error event
    // and [DONE] within one poll (250 ms). Bounded, so a client that reads nothing cannot hold the
    // shutdown.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (routes_->in_flight() > 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    server_->stop();
}

void api_server::install_routes() {
    httplib::Server& s = *server_;
    // The gate enforces the limits before httplib sees a request; these are httplib's own
    // second line (and what its "Keep-Alive: timeout=" header reports).
    s.set_keep_alive_timeout(options_.keep_alive_timeout_s);
    s.set_payload_max_length(options_.max_body_bytes);

    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (auto refusal = check_request(options_.host, options_.allowed_hosts, req.method,
                                         req.get_header_value("Host"), req.get_header_value("Content-Type"))) {
            json_error(res, refusal->status, refusal->message, "invalid_request_error", refusal->code);
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!options_.api_key.empty() && req.path.rfind("/v1/", 0) == 0 &&
            !same_secret(req.get_header_value("Authorization"), "Bearer " + options_.api_key)) {
            res.set_header("WWW-Authenticate", "Bearer");
            json_error(res, 401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
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
            json_error(res, 413, "request body exceeds the limit of " + std::to_string(options_.max_body_bytes) + " bytes",
                       "invalid_request_error", "payload_too_large");
            break;
        case 404: json_error(res, 404, "no route for " + req.method + " " + req.path, "invalid_request_error"); break;
        case 503: json_error(res, 503, "server unavailable", "server_busy"); break;
        default:
            json_error(res, res.status, res.status >= 500 ? "internal server error" : "bad request",
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
        json_error(res, 500, "internal error: " + what, "server_error");
    });
    if (options_.access_log) {
        s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
            std::fprintf(stderr, "%s %s %s -> %d\n", req.remote_addr.c_str(), req.method.c_str(), req.path.c_str(),
                         res.status);
        });
    }

    s.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        // The server listens only once the model is loaded, so reaching it means ready.
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    // The one model object, as the list's entry and as GET /v1/models/{id}; `created` is fixed at
    // the first answer so both always agree.
    auto model_object = [this] {
        static const int64_t created = int64_t(std::time(nullptr));
        return json{{"id", model_id_}, {"object", "model"}, {"created", created}, {"owned_by", "ridgeline"},
                    {"max_model_len", engine_.info().context_length}};
    };
    s.Get("/v1/models", [model_object](const httplib::Request&, httplib::Response& res) {
        res.set_content(dump_json({{"object", "list"}, {"data", json::array({model_object()})}}), "application/json");
    });
    // ".+": ids may hold '/' (OpenAI's SDK puts the id in the path unescaped).
    s.Get("/v1/models/(.+)", [this, model_object](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        if (id != model_id_)
            return json_error(res, 404, "The model '" + id + "' does not exist; this server serves '" + model_id_ + "'",
                              "invalid_request_error", "model_not_found", "model");
        res.set_content(dump_json(model_object()), "application/json");
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(exporter_->render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    routes_->install(s);
}

} // namespace rl
