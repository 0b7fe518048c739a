// openai_routes.cpp: see openai_routes.h. Streaming uses httplib's chunked content provider; a
// failed write (the client went away) ends the provider, and its releaser cancels the engine
// request so its KV blocks are freed at once. While nothing is generated (queued, long prefill)
// an SSE comment every 2 s keeps proxies from dropping the stream. Every wait (the first event,
// a non-streaming answer, a stream between tokens) also asks the connection gate every 250 ms
// whether the client hung up, and cancels at once when it has.
#include "server/openai_routes.h"

#include "server/generation.h"
#include "server/http_gate.h"
#include "server/openai_request.h"
#include "server/prometheus.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

using nlohmann::json;

namespace rl {

namespace {

using steady_clock = std::chrono::steady_clock;

// 24 hex digits, random per response (as OpenAI's ids): ids never repeat across restarts, so logs
// and client caches keyed by id do not mix two runs' answers.
std::string random_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng() & 0xffffffffull));
    return buf;
}

void send_error(httplib::Response& res, const api_error& e) {
    res.status = e.status;
    if (e.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump_json(error_body(e)), "application/json");
}

api_error rejection_error(const generation_step& s) {
    api_error e;
    e.message = s.error;
    if (s.rejected && s.error.rfind("at capacity", 0) == 0) {
        e.status = 503;
        e.type = "server_busy";
        e.code = "at_capacity";
    } else if (s.rejected) {
        e.status = 400;
    } else {
        e.status = s.error == "engine stopped" ? 503 : 500;
        e.type = "server_error";
    }
    return e;
}

// One in-flight request: keeps the generation alive and the server's count of it right.
struct live_request {
    live_request(std::function<void()> release, std::unique_ptr<generation> g)
        : gen(std::move(g)), release_(std::move(release)) {}
    ~live_request() {
        gen.reset();   // cancels the engine request if it has not ended
        release_();
    }
    std::unique_ptr<generation> gen;

private:
    std::function<void()> release_;
};

struct response_shape {
    bool chat = true;
    std::string id;
    std::string model;
    int64_t created = 0;

    json chunk(const json& delta_or_text, const json& finish_reason) const {
        json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
        if (chat) choice["delta"] = delta_or_text;
        else choice["text"] = delta_or_text;
        return {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                {"model", model}, {"choices", json::array({choice})}};
    }
    json usage(const generation& g) const {
        return {{"prompt_tokens", g.prompt_tokens()},
                {"completion_tokens", g.completion_tokens()},
                {"total_tokens", g.prompt_tokens() + g.completion_tokens()}};
    }
};

// The client hung up before its answer: free the engine request (and its KV) now. 499 is
// nginx's "client closed request"; only the access log sees it.
void client_gone(httplib::Response& res, generation& g) {
    g.cancel();
    res.status = 499;
}

std::string sse(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

} // namespace

openai_routes::openai_routes(engine& eng, std::string model_id, prometheus_exporter* exporter)
    : engine_(eng), model_id_(std::move(model_id)), exporter_(exporter) {}

void openai_routes::install(httplib::Server& server) {
    server.Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, true); });
    server.Post("/v1/completions",
                [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, false); });
}

int openai_routes::in_flight() const {
    std::lock_guard lk(mutex_);
    return int(active_.size());
}

void openai_routes::cancel_all() {
    std::lock_guard lk(mutex_);
    for (uint64_t id : active_) engine_.cancel(id);
}

uint64_t openai_routes::track(uint64_t request_id) {
    std::lock_guard lk(mutex_);
    active_.insert(request_id);
    return request_id;
}

void openai_routes::untrack(uint64_t request_id) {
    std::lock_guard lk(mutex_);
    active_.erase(request_id);
}

void openai_routes::handle_completion(const httplib::Request& http_req, httplib::Response& res, bool chat) {
    api_error err;
    if (!admitting_) {
        err.status = 503;
        err.type = "server_busy";
        err.message = "the server is shutting down";
        return send_error(res, err);
    }
    std::optional<api_request> parsed = parse_api_request(http_req.body, chat, err);
    if (!parsed) return send_error(res, err);
    const api_request& a = *parsed;
    if (a.model != model_id_)
        return send_error(res, {404, "The model '" + a.model + "' does not exist; this server serves '" + model_id_ +
                                         "' (GET /v1/models)",
                                "invalid_request_error", "model_not_found", "model"});

    std::vector<int32_t> prompt;
    try {
        if (chat) prompt = engine_.tokenize_chat(a.messages);
        else if (a.prompt_ids) prompt = *a.prompt_ids;  // the engine checks the ids against the vocabulary
        else prompt = engine_.tokenize_text(a.prompt, a.parse_special);  // "<|im_start|>" one token, as in llama-server
    } catch (const std::exception& e) {
        api_error err;  // status 400, invalid_request_error
        err.message = std::string("cannot tokenize the prompt: ") + e.what();
        return send_error(res, err);
    }
    const int context = engine_.info().context_length;
    const int n = int(prompt.size());
    if (n == 0) return send_error(res, {400, "the prompt is empty", "invalid_request_error", "", chat ? "messages" : "prompt"});
    if (n >= context)
        return send_error(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                         " tokens. However, your prompt has " + std::to_string(n) + " tokens.",
                                "invalid_request_error", "context_length_exceeded", chat ? "messages" : "prompt"});
    if (a.max_tokens && int64_t(n) + *a.max_tokens > context)
        return send_error(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                         " tokens. However, you requested " + std::to_string(int64_t(n) + *a.max_tokens) +
                                         " tokens (" + std::to_string(n) + " in the prompt, " +
                                         std::to_string(*a.max_tokens) + " for the completion).",
                                "invalid_request_error", "context_length_exceeded", "max_tokens"});

    const uint64_t serial = ++counter_;
    request r;
    r.conversation_id = kOwnerApiBit | serial;
    r.prompt = std::move(prompt);
    r.sampling = a.sampling;
    r.max_tokens = a.max_tokens.value_or(context - n);
    prometheus_exporter* exporter = exporter_;
    auto gen = std::make_unique<generation>(engine_, std::move(r), a.stop, [exporter](uint64_t owner) {
        if (exporter) exporter->note_stopped_owner(owner);
    });
    const uint64_t id = track(gen->request_id());
    auto live = std::make_shared<live_request>([this, id] { untrack(id); }, std::move(gen));
    generation& g = *live->gen;

    // Wait for the first event before answering, so a rejection (admission control answers at
    // once) gets its own status code. A stream waits at most a second: one still queued then gets
    // its headers and keep-alive comments now (proxies with idle timeouts drop a silent socket),
    // and a later rejection arrives as an error event before [DONE].
    generation_step first;
    bool have_first = false;
    const auto give_up = steady_clock::now() + std::chrono::seconds(1);
    while (!(have_first = g.poll(first, std::chrono::milliseconds(250)))) {
        if (gated_server::client_disconnected()) return client_gone(res, g);   // still queued or prefilling
        if (a.stream && steady_clock::now() >= give_up) break;
    }
    if (have_first && (first.rejected || first.failed)) return send_error(res, rejection_error(first));

    response_shape shape{chat, (chat ? "chatcmpl-" : "cmpl-") + random_id(), model_id_, int64_t(std::time(nullptr))};
    if (!a.stream) {
        std::string text = first.text;
        generation_step step = first;
        for (auto next_check = steady_clock::now(); !step.finished;) {
            if (g.poll(step, std::chrono::milliseconds(250))) text += step.text;
            if (steady_clock::now() < next_check) continue;
            if (gated_server::client_disconnected()) return client_gone(res, g);
            next_check = steady_clock::now() + std::chrono::milliseconds(250);
        }
        if (step.rejected || step.failed) return send_error(res, rejection_error(step));
        json choice = {{"index", 0}, {"finish_reason", step.finish_reason}, {"logprobs", nullptr}};
        if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
        else choice["text"] = text;
        json body = {{"id", shape.id}, {"object", chat ? "chat.completion" : "text_completion"},
                     {"created", shape.created}, {"model", model_id_}, {"choices", json::array({choice})},
                     {"usage", shape.usage(g)}};
        res.set_content(dump_json(body), "application/json");
        return;
    }

    struct stream_state {
        std::shared_ptr<live_request> live;
        generation_step pending;
        bool have_pending = true;
        bool role_sent = false;
        bool done = false;
        bool include_usage = false;
        steady_clock::time_point last_write = steady_clock::now();
    };
    auto st = std::make_shared<stream_state>();
    st->live = live;
    st->pending = first;
    st->have_pending = have_first;
    st->include_usage = a.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st, shape](size_t, httplib::DataSink& sink) -> bool {
            if (st->done) {
                sink.done();
                return true;
            }
            auto write = [&](const std::string& s) {
                st->last_write = steady_clock::now();
                return sink.write(s.data(), s.size());
            };
            generation& gen = *st->live->gen;
            if (shape.chat && !st->role_sent) {
                st->role_sent = true;
                if (!write(sse(shape.chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
            }
            generation_step step;
            if (st->have_pending) {
                step = st->pending;
                st->have_pending = false;
            } else if (!gen.poll(step, std::chrono::milliseconds(250))) {
                if (steady_clock::now() - st->last_write > std::chrono::seconds(2)) return write(": keep-alive\n\n");
                return sink.is_writable ? sink.is_writable() : true;
            }
            if (!step.text.empty()) {
                const json delta = shape.chat ? json{{"content", step.text}} : json(step.text);
                if (!write(sse(shape.chunk(delta, nullptr)))) return false;
            }
            if (!step.finished) return true;
            bool ok = true;
            if (step.rejected || step.failed) ok = write(sse(error_body(rejection_error(step))));
            else ok = write(sse(shape.chunk(shape.chat ? json::object() : json(""), step.finish_reason)));
            if (ok && st->include_usage) {
                json u = shape.chunk(json::object(), nullptr);
                u["choices"] = json::array();
                u["usage"] = shape.usage(gen);
                ok = write(sse(u));
            }
            if (ok) ok = write("data: [DONE]\n\n");
            st->done = true;
            if (ok) sink.done();
            return ok;
        },
        [st](bool success) {
            // Client gone or write failed: cancel now (also done when the state is destroyed).
            if (!success && st->live) st->live->gen->cancel();
            st->live.reset();
        });
}

} // namespace rl
