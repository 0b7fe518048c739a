// openai_routes.cpp: see openai_routes.h. Streaming uses httplib's chunked content provider; a
// failed write (the client went away) ends the provider, and its releaser cancels the engine
// request so its KV blocks are freed at once. While nothing is generated (queued, long prefill)
// an SSE comment every 2 s probes the connection.
#include "server/openai_routes.h"

#include "server/generation.h"
#include "server/openai_request.h"
#include "server/prometheus.h"

#include <httplib.h>

#include <chrono>
#include <ctime>

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

void sendError(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    if (e.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dumpJson(errorBody(e)), "application/json");
}

ApiError rejection(const GenerationStep& s) {
    ApiError e;
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

// One in-flight request: keeps the Generation alive and the server's count of it right.
struct LiveRequest {
    LiveRequest(std::function<void()> release, std::unique_ptr<Generation> g)
        : gen(std::move(g)), mRelease(std::move(release)) {}
    ~LiveRequest() {
        gen.reset();   // cancels the engine request if it has not ended
        mRelease();
    }
    std::unique_ptr<Generation> gen;

private:
    std::function<void()> mRelease;
};

struct ResponseShape {
    bool chat = true;
    std::string id;
    std::string model;
    int64_t created = 0;

    json chunk(const json& deltaOrText, const json& finishReason) const {
        json choice = {{"index", 0}, {"finish_reason", finishReason}, {"logprobs", nullptr}};
        if (chat) choice["delta"] = deltaOrText;
        else choice["text"] = deltaOrText;
        return {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                {"model", model}, {"choices", json::array({choice})}};
    }
    json usage(const Generation& g) const {
        return {{"prompt_tokens", g.promptTokens()},
                {"completion_tokens", g.completionTokens()},
                {"total_tokens", g.promptTokens() + g.completionTokens()}};
    }
};

std::string sse(const json& j) { return "data: " + dumpJson(j) + "\n\n"; }

} // namespace

OpenAiRoutes::OpenAiRoutes(rl::engine& eng, std::string modelId, PrometheusExporter* exporter)
    : mEngine(eng), mModelId(std::move(modelId)), mExporter(exporter) {}

void OpenAiRoutes::install(httplib::Server& server) {
    server.Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) { handleCompletion(req, res, true); });
    server.Post("/v1/completions",
                [this](const httplib::Request& req, httplib::Response& res) { handleCompletion(req, res, false); });
}

int OpenAiRoutes::inFlight() const {
    std::lock_guard lk(mMutex);
    return int(mActive.size());
}

void OpenAiRoutes::cancelAll() {
    std::lock_guard lk(mMutex);
    for (uint64_t id : mActive) mEngine.cancel(id);
}

uint64_t OpenAiRoutes::track(uint64_t requestId) {
    std::lock_guard lk(mMutex);
    mActive.insert(requestId);
    return requestId;
}

void OpenAiRoutes::untrack(uint64_t requestId) {
    std::lock_guard lk(mMutex);
    mActive.erase(requestId);
}

void OpenAiRoutes::handleCompletion(const httplib::Request& httpReq, httplib::Response& res, bool chat) {
    ApiError err;
    std::optional<ApiRequest> parsed = parseApiRequest(httpReq.body, chat, err);
    if (!parsed) return sendError(res, err);
    const ApiRequest& a = *parsed;
    if (a.model != mModelId)
        return sendError(res, {404, "The model '" + a.model + "' does not exist; this server serves '" + mModelId +
                                        "' (GET /v1/models)",
                               "invalid_request_error", "model_not_found", "model"});

    std::vector<int32_t> prompt;
    try {
        prompt = chat ? mEngine.tokenize_chat(a.messages) : mEngine.tokenize_text(a.prompt);
    } catch (const std::exception& e) {
        return sendError(res, {400, std::string("cannot tokenize the prompt: ") + e.what()});
    }
    const int context = mEngine.info().context_length;
    const int n = int(prompt.size());
    if (n == 0) return sendError(res, {400, "the prompt is empty", "invalid_request_error", "", chat ? "messages" : "prompt"});
    if (n >= context)
        return sendError(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                        " tokens. However, your prompt has " + std::to_string(n) + " tokens.",
                               "invalid_request_error", "context_length_exceeded", chat ? "messages" : "prompt"});
    if (a.maxTokens && int64_t(n) + *a.maxTokens > context)
        return sendError(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                        " tokens. However, you requested " + std::to_string(int64_t(n) + *a.maxTokens) +
                                        " tokens (" + std::to_string(n) + " in the prompt, " +
                                        std::to_string(*a.maxTokens) + " for the completion).",
                               "invalid_request_error", "context_length_exceeded", "max_tokens"});

    const uint64_t serial = ++mCounter;
    rl::request r;
    r.conversation_id = rl::kOwnerApiBit | serial;
    r.prompt = std::move(prompt);
    r.sampling = a.sampling;
    r.max_tokens = a.maxTokens.value_or(context - n);
    PrometheusExporter* exporter = mExporter;
    auto gen = std::make_unique<Generation>(mEngine, std::move(r), a.stop, [exporter](uint64_t owner) {
        if (exporter) exporter->noteStoppedOwner(owner);
    });
    const uint64_t id = track(gen->requestId());
    auto live = std::make_shared<LiveRequest>([this, id] { untrack(id); }, std::move(gen));
    Generation& g = *live->gen;

    // Wait for the first event before answering, so a rejection gets its own status code.
    GenerationStep first;
    while (!g.poll(first, std::chrono::seconds(1))) {
    }
    if (first.rejected || first.failed) return sendError(res, rejection(first));

    ResponseShape shape{chat, (chat ? "chatcmpl-" : "cmpl-") + std::to_string(serial), mModelId, int64_t(std::time(nullptr))};
    if (!a.stream) {
        std::string text = first.text;
        GenerationStep step = first;
        while (!step.finished) {
            if (g.poll(step, std::chrono::seconds(1))) text += step.text;
        }
        if (step.rejected || step.failed) return sendError(res, rejection(step));
        json choice = {{"index", 0}, {"finish_reason", step.finishReason}, {"logprobs", nullptr}};
        if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
        else choice["text"] = text;
        json body = {{"id", shape.id}, {"object", chat ? "chat.completion" : "text_completion"},
                     {"created", shape.created}, {"model", mModelId}, {"choices", json::array({choice})},
                     {"usage", shape.usage(g)}};
        res.set_content(dumpJson(body), "application/json");
        return;
    }

    struct StreamState {
        std::shared_ptr<LiveRequest> live;
        GenerationStep pending;
        bool havePending = true;
        bool roleSent = false;
        bool done = false;
        bool includeUsage = false;
        Clock::time_point lastWrite = Clock::now();
    };
    auto st = std::make_shared<StreamState>();
    st->live = live;
    st->pending = first;
    st->includeUsage = a.includeUsage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st, shape](size_t, httplib::DataSink& sink) -> bool {
            if (st->done) {
                sink.done();
                return true;
            }
            auto write = [&](const std::string& s) {
                st->lastWrite = Clock::now();
                return sink.write(s.data(), s.size());
            };
            Generation& gen = *st->live->gen;
            if (shape.chat && !st->roleSent) {
                st->roleSent = true;
                if (!write(sse(shape.chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
            }
            GenerationStep step;
            if (st->havePending) {
                step = st->pending;
                st->havePending = false;
            } else if (!gen.poll(step, std::chrono::milliseconds(250))) {
                if (Clock::now() - st->lastWrite > std::chrono::seconds(2)) return write(": keep-alive\n\n");
                return sink.is_writable ? sink.is_writable() : true;
            }
            if (!step.text.empty()) {
                const json delta = shape.chat ? json{{"content", step.text}} : json(step.text);
                if (!write(sse(shape.chunk(delta, nullptr)))) return false;
            }
            if (!step.finished) return true;
            bool ok = true;
            if (step.rejected || step.failed) ok = write(sse(errorBody(rejection(step))));
            else ok = write(sse(shape.chunk(shape.chat ? json::object() : json(""), step.finishReason)));
            if (ok && st->includeUsage) {
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
