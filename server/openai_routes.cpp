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
#include "server/openai_response.h"
#include "serving/json_schema.h"
#include "tokenizer/tokenizer.h"
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

// One in-flight request: keeps its choices alive and the server's count of them right.
struct live_request {
    explicit live_request(std::function<void(const std::vector<uint64_t>&)> release) : release_(std::move(release)) {}
    ~live_request() {
        group.reset();   // cancels the engine requests that have not ended
        release_(ids);
    }
    std::unique_ptr<generation_group> group;
    std::vector<uint64_t> ids;   // engine requests submitted (only the HTTP worker appends)

private:
    std::function<void(const std::vector<uint64_t>&)> release_;
};

// A choice's answer so far (non-streaming).
struct choice_result {
    std::string text;
    std::vector<token_report> tokens;
    std::string finish_reason;
};

// The client hung up before its answer: free the engine request (and its KV) now. 499 is
// nginx's "client closed request"; only the access log sees it.
void client_gone(httplib::Response& res, generation_group& g) {
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

std::shared_ptr<const json_vocabulary> openai_routes::json_vocab() {
    std::lock_guard lk(mutex_);
    if (!json_vocab_) json_vocab_ = json_vocabulary::from_tokenizer(engine_.get_tokenizer());
    return json_vocab_;
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

    // Each prompt (chat: the rendered conversation), tokenized and checked against the context.
    const tokenizer& tok = engine_.get_tokenizer();
    const int context = engine_.info().context_length;
    const char* prompt_param = chat ? "messages" : "prompt";
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::string> echoes;  // each prompt's text, for echo
    try {
        if (chat) prompts.push_back(engine_.tokenize_chat(a.messages));
        for (const api_prompt& p : a.prompts) {
            // Token ids are used as given (the engine checks them against the vocabulary); text gets
            // its special tokens parsed ("<|im_start|>" one token, as in llama-server).
            prompts.push_back(p.ids ? *p.ids : engine_.tokenize_text(p.text, a.parse_special));
            if (a.echo) echoes.push_back(p.ids ? tok.decode(*p.ids) : p.text);
        }
    } catch (const std::exception& e) {
        api_error err;  // status 400, invalid_request_error
        err.message = std::string("cannot tokenize the prompt: ") + e.what();
        return send_error(res, err);
    }
    for (const auto& prompt : prompts) {
        const int n = int(prompt.size());
        if (n == 0) return send_error(res, {400, "the prompt is empty", "invalid_request_error", "", prompt_param});
        if (n >= context)
            return send_error(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                             " tokens. However, your prompt has " + std::to_string(n) + " tokens.",
                                    "invalid_request_error", "context_length_exceeded", prompt_param});
        if (a.max_tokens && int64_t(n) + *a.max_tokens > context)
            return send_error(res, {400, "This model's maximum context length is " + std::to_string(context) +
                                             " tokens. However, you requested " +
                                             std::to_string(int64_t(n) + *a.max_tokens) + " tokens (" +
                                             std::to_string(n) + " in the prompt, " + std::to_string(*a.max_tokens) +
                                             " for the completion).",
                                    "invalid_request_error", "context_length_exceeded", "max_tokens"});
    }

    prometheus_exporter* exporter = exporter_;
    auto live = std::make_shared<live_request>([this](const std::vector<uint64_t>& ids) {
        for (uint64_t id : ids) untrack(id);
    });
    live_request* lr = live.get();
    live->group = std::make_unique<generation_group>(
        engine_, tok, a.stop, [exporter](uint64_t owner) { if (exporter) exporter->note_stopped_owner(owner); },
        [this, lr](uint64_t id) { lr->ids.push_back(track(id)); });
    generation_group& g = *live->group;
    // Choices prompt-major, as OpenAI indexes them; the n choices of one prompt share its KV blocks
    // through the prefix cache (generation_group::add_prompt).
    const auto vocab = a.json_object || a.schema ? json_vocab() : nullptr;
    for (const auto& prompt : prompts) {
        std::vector<request> choices;
        for (int j = 0; j < a.n; ++j) {
            request r;
            r.conversation_id = kOwnerApiBit | ++counter_;
            r.prompt = prompt;
            r.sampling = a.sampling;
            r.sampling.seed = choice_seed(a.sampling.seed, size_t(j));
            r.max_tokens = a.max_tokens.value_or(context - int(prompt.size()));
            r.logprobs = a.logprobs;
            if (a.schema) r.constraint = std::make_shared<json_schema_constraint>(vocab, a.schema);
            else if (a.json_object) r.constraint = std::make_shared<json_constraint>(vocab);
            choices.push_back(std::move(r));
        }
        g.add_prompt(std::move(choices));
    }

    // Wait for the first event before answering, so a rejection (admission control answers at
    // once) gets its own status code. A stream waits at most a second: one still queued then gets
    // its headers and keep-alive comments now (proxies with idle timeouts drop a silent socket),
    // and a later rejection arrives as an error event before [DONE].
    std::vector<generation_step> first;
    const auto give_up = steady_clock::now() + std::chrono::seconds(1);
    while (first.empty()) {
        g.poll(first, std::chrono::milliseconds(250));   // a leader's events add no step
        if (!first.empty() || g.finished()) break;
        if (gated_server::client_disconnected()) return client_gone(res, g);   // still queued or prefilling
        if (a.stream && steady_clock::now() >= give_up) break;
    }
    for (const auto& s : first)
        if (s.rejected || s.failed) return send_error(res, rejection_error(s));

    response_shape shape{chat, (chat ? "chatcmpl-" : "cmpl-") + random_id(), model_id_, int64_t(std::time(nullptr)),
                         a.logprobs, &tok};
    auto echo_of = [&](size_t index) { return a.echo ? echoes[index / size_t(a.n)] : std::string(); };
    if (!a.stream) {
        std::vector<choice_result> results(g.size());
        std::vector<generation_step> steps = std::move(first);
        for (auto next_check = steady_clock::now();;) {
            for (const auto& s : steps) {
                if (s.rejected || s.failed) return send_error(res, rejection_error(s));
                choice_result& c = results[s.index];
                c.text += s.text;
                c.tokens.insert(c.tokens.end(), s.tokens.begin(), s.tokens.end());
                if (s.finished) c.finish_reason = s.finish_reason;
            }
            if (g.finished()) break;
            steps.clear();
            g.poll(steps, std::chrono::milliseconds(250));
            if (steady_clock::now() < next_check) continue;
            if (gated_server::client_disconnected()) return client_gone(res, g);
            next_check = steady_clock::now() + std::chrono::milliseconds(250);
        }
        json choices = json::array();
        for (size_t i = 0; i < results.size(); ++i) {
            const choice_result& c = results[i];
            json choice = {{"index", i}, {"finish_reason", c.finish_reason}, {"logprobs", shape.logprobs_json(c.tokens)}};
            if (chat) choice["message"] = {{"role", "assistant"}, {"content", c.text}};
            else choice["text"] = echo_of(i) + c.text;
            choices.push_back(std::move(choice));
        }
        json body = {{"id", shape.id}, {"object", chat ? "chat.completion" : "text_completion"},
                     {"created", shape.created}, {"model", model_id_}, {"choices", std::move(choices)},
                     {"usage", shape.usage(g.prompt_tokens(), g.completion_tokens())}};
        res.set_content(dump_json(body), "application/json");
        return;
    }

    struct stream_state {
        std::shared_ptr<live_request> live;
        std::vector<generation_step> pending;
        bool opened = false;     // the role (chat) or echo (completions) chunks went out
        bool done = false;
        bool include_usage = false;
        std::vector<std::string> openings;  // per choice: the echoed prompt, or "" (chat: the role)
        steady_clock::time_point last_write = steady_clock::now();
    };
    auto st = std::make_shared<stream_state>();
    st->live = live;
    st->pending = std::move(first);
    st->include_usage = a.include_usage;
    for (size_t i = 0; i < g.size(); ++i) st->openings.push_back(echo_of(i));
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
            generation_group& group = *st->live->group;
            if (!st->opened) {
                st->opened = true;
                for (size_t i = 0; i < st->openings.size(); ++i) {
                    if (shape.chat && !write(sse(shape.chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr))))
                        return false;
                    if (!shape.chat && !st->openings[i].empty() && !write(sse(shape.chunk(i, st->openings[i], nullptr))))
                        return false;
                }
            }
            std::vector<generation_step> steps;
            steps.swap(st->pending);
            if (steps.empty() && !group.poll(steps, std::chrono::milliseconds(250))) {
                if (steady_clock::now() - st->last_write > std::chrono::seconds(2)) return write(": keep-alive\n\n");
                return sink.is_writable ? sink.is_writable() : true;
            }
            bool ok = true, failed = false;
            for (const auto& step : steps) {
                if (ok && (!step.text.empty() || !step.tokens.empty())) {
                    const json delta = shape.chat ? json{{"content", step.text}} : json(step.text);
                    ok = write(sse(shape.chunk(step.index, delta, nullptr, &step.tokens)));
                }
                if (!ok || !step.finished) continue;
                if (step.rejected || step.failed) {
                    ok = write(sse(error_body(rejection_error(step))));
                    failed = true;
                } else {
                    ok = write(sse(shape.chunk(step.index, shape.chat ? json::object() : json(""), step.finish_reason)));
                }
            }
            if (!ok) return false;
            if (failed) group.cancel();  // one error event ends the whole stream
            if (!group.finished()) return true;
            if (st->include_usage && !failed) {
                json u = shape.chunk(0, json::object(), nullptr);
                u["choices"] = json::array();
                u["usage"] = shape.usage(group.prompt_tokens(), group.completion_tokens());
                ok = write(sse(u));
            }
            if (ok) ok = write("data: [DONE]\n\n");
            st->done = true;
            if (ok) sink.done();
            return ok;
        },
        [st](bool success) {
            // Client gone or write failed: cancel now (also done when the state is destroyed).
            if (!success && st->live) st->live->group->cancel();
            st->live.reset();
        });
}

} // namespace rl
