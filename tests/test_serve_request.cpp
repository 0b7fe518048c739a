// test_serve_request: rl::parse_api_request (server/openai_request.h) on its own, no model and no
// HTTP: OpenAI's sampling defaults (temperature 1, a fresh seed per request, an explicit seed
// kept), the SDK fields (logprobs in both shapes, n, penalties, logit_bias, echo, prompt batches,
// response_format), what is refused with `param` naming it (json_schema, tools, out-of-range
// values), fields accepted and ignored, the `developer` role, bare field names in `param`, and the
// log-probability JSON shapes (server/openai_response.h).
// tests/test_serve.cpp drives the same parser through the real server.
#include "rl_test.h"

#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/request_guard.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

json bareChat() { return {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}}; }

std::optional<rl::api_request> parse(const json& body, bool chat = true) {
    rl::api_error err;
    auto r = rl::parse_api_request(body.dump(), chat, err);
    if (!r) std::fprintf(stderr, "refused: %s (param %s)\n", err.message.c_str(), err.param.c_str());
    return r;
}

rl::api_error refusal(const json& body, bool chat = true) {
    rl::api_error err;
    if (rl::parse_api_request(body.dump(), chat, err)) err.message = "(accepted)";
    return err;
}

json with(const char* key, json v, json base = bareChat()) {
    base[key] = std::move(v);
    return base;
}

} // namespace

class TestServeRequest : public QObject {
    Q_OBJECT
private slots:
    void samplingDefaultsAsOpenAi() {
        const auto a = parse(bareChat()), b = parse(bareChat());
        QVERIFY(a && b);
        QCOMPARE(a->sampling.temperature, 1.f);
        QCOMPARE(a->sampling.top_p, 1.f);   // OpenAI: top_p 1, no top_k, no min_p
        QCOMPARE(a->sampling.top_k, 0);
        QCOMPARE(a->sampling.min_p, 0.f);
        QCOMPARE(a->sampling.repetition_penalty, 1.f);
        QVERIFY2(a->sampling.seed != b->sampling.seed, "two requests without a seed got the same one");
        const json seeded = with("temperature", 0.5, with("seed", 1234));
        const auto c = parse(seeded), d = parse(seeded);
        QVERIFY(c && d);
        QCOMPARE(c->sampling.seed, uint64_t(1234));
        QCOMPARE(d->sampling.seed, uint64_t(1234));
        QCOMPARE(c->sampling.temperature, 0.5f);
        const auto e = parse(with("seed", -5));
        QVERIFY(e);
        QCOMPARE(e->sampling.seed, uint64_t(-5));
        const auto g = parse(with("temperature", 0));
        QVERIFY(g);
        QCOMPARE(g->sampling.temperature, 0.f);
        const auto n = parse(with("temperature", nullptr));   // null counts as absent
        QVERIFY(n);
        QCOMPARE(n->sampling.temperature, 1.f);
        const auto p = parse({{"model", "m"}, {"prompt", "Once"}}, false);
        QVERIFY(p);
        QCOMPARE(p->sampling.temperature, 1.f);
    }

    void standardFieldsAtTheirDefaultsAreAccepted() {
        json b = bareChat();
        b["logprobs"] = false;
        b["top_logprobs"] = 0;
        b["n"] = 1;
        b["presence_penalty"] = 0;
        b["frequency_penalty"] = 0.0;
        b["response_format"] = {{"type", "text"}};
        b["echo"] = false;
        b["logit_bias"] = json::object();
        b["parallel_tool_calls"] = true;
        b["service_tier"] = "auto";
        b["metadata"] = {{"team", "a"}};
        b["store"] = false;
        b["user"] = "u1";
        QVERIFY(parse(b));
        for (const char* key : {"logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "response_format",
                                "echo", "logit_bias", "parallel_tool_calls", "service_tier", "metadata", "store"}) {
            json nulls = bareChat();
            nulls[key] = nullptr;
            QVERIFY2(parse(nulls), key);
        }
        QVERIFY(parse({{"model", "m"}, {"prompt", "Once"}, {"echo", false}, {"logprobs", nullptr}}, false));
    }

    void otherValuesAreRefusedNamingTheField() {
        struct refused {
            const char* param;
            json body;
            const char* says;   // part of the message
            bool chat = true;
        };
        const json comp = {{"model", "m"}, {"prompt", "x"}};
        const std::vector<refused> cases = {
            {"logprobs", with("logprobs", 2), "must be a boolean"},   // chat: a boolean; completions: a count
            {"logprobs", with("logprobs", "yes"), "must be a boolean"},
            {"logprobs", with("logprobs", 21, comp), "between", false},
            {"logprobs", with("logprobs", -1, comp), "between", false},
            {"top_logprobs", with("top_logprobs", 3), "needs 'logprobs': true"},
            {"top_logprobs", with("top_logprobs", 21, with("logprobs", true)), "between"},
            {"frequency_penalty", with("frequency_penalty", 3), "between"},
            {"presence_penalty", with("presence_penalty", -2.5), "between"},
            {"response_format", with("response_format", {{"type", "json_schema"}, {"json_schema", json::object()}}),
             "needs a 'schema'"},
            {"response_format", with("response_format", {{"type", "json_schema"},
                                                         {"json_schema", {{"schema", {{"type", "string"}, {"pattern", "a+"}}}}}}),
             "'pattern' is not supported"},
            {"response_format", with("response_format", {{"type", "json_schema"},
                                                         {"json_schema", {{"schema", {{"anyOf", json::array()}}}}}}),
             "needs 'type'"},
            {"response_format", with("response_format", {{"type", "json_schema"},
                                                         {"json_schema", {{"schema", {{"type", "object"},
                                                                                      {"required", {"x"}}}}}}}),
             "not in 'properties'"},
            {"response_format", with("response_format", {{"type", "yaml"}}), "must be 'text', 'json_object' or 'json_schema'"},
            {"response_format", with("response_format", "text"), "must be an object"},
            {"tools", with("tools", json::array({{{"type", "function"}}})), "tool calling is not supported"},
            {"tool_choice", with("tool_choice", "auto"), "tool calling is not supported"},
            {"functions", with("functions", json::array()), "tool calling is not supported"},
            {"echo", with("echo", true), "for /v1/completions only"},
            {"echo", with("echo", true, with("logprobs", 1, comp)), "log-probabilities of prompt tokens", false},
            {"logit_bias", with("logit_bias", {{"50256", -101}}), "between -100 and 100"},
            {"logit_bias", with("logit_bias", {{"abc", 1}}), "token ids"},
            {"logit_bias", with("logit_bias", {{"-3", 1}}), "token ids"},
            {"logit_bias", with("logit_bias", json::array()), "must be an object"},
            {"store", with("store", "yes"), "must be a boolean"},
            {"metadata", with("metadata", {{"k", 1}}), "strings"},
            {"n", with("n", 0), "between 1 and 64"},
            {"n", with("n", 65), "between 1 and 64"},
            {"prompt", with("n", 8, with("prompt", json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i"}), comp)),
             "more than 64 choices", false},
            {"prompt", with("prompt", json::array({"a", 5}), comp), "'prompt'", false},
        };
        for (const auto& c : cases) {
            const rl::api_error e = refusal(c.body, c.chat);
            const std::string what = c.body.dump() + " -> " + e.message + " (param " + e.param + ")";
            QVERIFY2(e.message != "(accepted)", what.c_str());
            QCOMPARE(e.status, 400);
            QCOMPARE(e.param, std::string(c.param));
            QVERIFY2(e.message.find(c.says) != std::string::npos, what.c_str());
        }
    }

    void sdkFieldsAreParsed() {
        json b = bareChat();
        b.update({{"logprobs", true}, {"top_logprobs", 3}, {"n", 4}, {"presence_penalty", 0.5},
                  {"frequency_penalty", -1}, {"logit_bias", {{"42", -100}, {"7", 2.5}}},
                  {"response_format", {{"type", "json_object"}}}, {"tool_choice", "none"}});
        auto r = parse(b);
        QVERIFY(r);
        QCOMPARE(r->logprobs, 3);
        QCOMPARE(r->n, 4);
        QCOMPARE(r->sampling.presence_penalty, 0.5f);
        QCOMPARE(r->sampling.frequency_penalty, -1.f);
        QCOMPARE(r->sampling.logit_bias.size(), size_t(2));
        bool saw42 = false, saw7 = false;
        for (auto& [id, v] : r->sampling.logit_bias) {
            saw42 |= id == 42 && v == -100.f;
            saw7 |= id == 7 && v == 2.5f;
        }
        QVERIFY(saw42 && saw7);
        QVERIFY(r->json_object && !r->schema);
        // json_schema: compiled into nodes (properties sorted by key, as the parser keeps them).
        r = parse(with("response_format", {{"type", "json_schema"},
                                           {"json_schema", {{"name", "p"}, {"strict", true},
                                                            {"schema", {{"type", "object"},
                                                                        {"properties", {{"b", {{"type", "integer"}}},
                                                                                        {"a", {{"enum", {"x", 2}}}}}},
                                                                        {"required", {"a"}},
                                                                        {"additionalProperties", false}}}}}}));
        QVERIFY(r && r->schema && !r->json_object);
        QCOMPARE(r->schema->nodes.size(), size_t(3));
        QCOMPARE(r->schema->nodes[0].properties[0].first, std::string("\"a\""));
        const rl::schema_node& a = r->schema->nodes[size_t(r->schema->nodes[0].properties[0].second)];
        QVERIFY(a.k == rl::schema_node::kind::literals && a.literals == std::vector<std::string>({"\"x\"", "2"}));
        r = parse(with("logprobs", true));  // no top_logprobs: the chosen token only
        QVERIFY(r && r->logprobs == 0);
        r = parse(with("logprobs", false, with("top_logprobs", 0)));
        QVERIFY(r && r->logprobs == -1);
        // Completions: legacy logprobs count, echo, and the four prompt forms.
        const json comp = {{"model", "m"}, {"prompt", "Once"}};
        r = parse(with("logprobs", 5, comp), false);
        QVERIFY(r && r->logprobs == 5 && !r->echo);
        r = parse(with("echo", true, comp), false);
        QVERIFY(r && r->echo && r->logprobs == -1);
        r = parse(with("prompt", json::array({"a", "bc"}), comp), false);
        QVERIFY(r && r->prompts.size() == 2 && r->prompts[1].text == "bc" && !r->prompts[1].ids);
        r = parse(with("prompt", json::array({json::array({1, 2}), json::array({3})}), comp), false);
        QVERIFY(r && r->prompts.size() == 2 && r->prompts[0].ids == std::vector<int32_t>({1, 2}));
        r = parse(with("prompt", json::array({9, 8}), comp), false);
        QVERIFY(r && r->prompts.size() == 1 && r->prompts[0].ids == std::vector<int32_t>({9, 8}));
        r = parse(comp, false);
        QVERIFY(r && r->prompts.size() == 1 && r->prompts[0].text == "Once" && r->n == 1);
    }

    // Choice seeds differ from each other, and the first is the request's own.
    void choiceSeeds() {
        QCOMPARE(rl::choice_seed(77, 0), uint64_t(77));
        QVERIFY(rl::choice_seed(77, 1) != rl::choice_seed(77, 2));
        QVERIFY(rl::choice_seed(77, 1) != uint64_t(78));
    }

    // Chunks carry their choice's index; without logprobs asked for, "logprobs" is null.
    void chunkAndUsageShapes() {
        rl::response_shape s;
        s.logprobs = -1;
        QVERIFY(s.logprobs_json({}).is_null());
        const json c = s.chunk(2, "x", nullptr);
        QCOMPARE(c["choices"][0]["index"].get<int>(), 2);
        QVERIFY(c["choices"][0]["logprobs"].is_null());
        const json u = s.usage(3, 4);
        QCOMPARE(u["total_tokens"].get<int>(), 7);
    }

    void paramIsTheBareFieldName() {
        QCOMPARE(refusal({{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}}).param, std::string("model"));
        QCOMPARE(refusal(with("model", 7)).param, std::string("model"));
        QCOMPARE(refusal(with("stop", json::array({1}))).param, std::string("stop"));
        QCOMPARE(refusal(with("messages", json::array({{{"role", 5}, {"content", "x"}}}))).param, std::string("messages"));
        QCOMPARE(refusal(with("temperature", "hot")).param, std::string("temperature"));
        QCOMPARE(refusal(with("max_tokens", 0)).param, std::string("max_tokens"));
        QCOMPARE(refusal(with("frobnicate", 1)).param, std::string("frobnicate"));
        // No param anywhere carries quotes.
        for (const json& b : {with("model", nullptr), with("model", json::array()), with("stop", json::array({""})),
                              with("seed", 1.5), with("stream_options", {{"x", 1}})}) {
            const rl::api_error e = refusal(b);
            QVERIFY2(!e.param.empty() && e.param.find('\'') == std::string::npos, (b.dump() + " -> " + e.param).c_str());
        }
    }

    void developerRoleIsSystem() {
        const auto r = parse(with("messages", json::array({{{"role", "developer"}, {"content", "Be brief."}},
                                                          {{"role", "user"}, {"content", "Hi"}}})));
        QVERIFY(r);
        QCOMPARE(r->messages.size(), size_t(2));
        QCOMPARE(r->messages[0].role, std::string("system"));
        QCOMPARE(r->messages[0].content, std::string("Be brief."));
        QCOMPARE(refusal(with("messages", json::array({{{"role", "tool"}, {"content", "x"}}}))).param, std::string("messages"));
    }

    // Web pages kept out (server/request_guard.h): simple cross-origin body types refused, and a
    // loopback server answering only to loopback names and listed ones.
    // A raw completion prompt parses its special tokens unless "parse_special": false; chat has no
    // such field (its template decides).
    void parseSpecialField() {
        const json comp = {{"model", "m"}, {"prompt", "<|im_start|>"}};
        const auto a = parse(comp, false);
        QVERIFY(a && a->parse_special);
        json off = comp;
        off["parse_special"] = false;
        const auto b = parse(off, false);
        QVERIFY(b && !b->parse_special);
        off["parse_special"] = "no";
        QCOMPARE(refusal(off, false).param, std::string("parse_special"));
        QCOMPARE(refusal(with("parse_special", false)).param, std::string("parse_special"));  // chat: unknown
    }

    void browserRequestsAreRefused() {
        const std::vector<std::string> none;
        auto refused = [](const std::optional<rl::guard_refusal>& r, int status) { return r && r->status == status; };
        QVERIFY(!rl::check_request("127.0.0.1", none, "POST", "127.0.0.1:8080", "application/json"));
        QVERIFY(!rl::check_request("127.0.0.1", none, "POST", "localhost:8080", "application/json; charset=utf-8"));
        QVERIFY(!rl::check_request("127.0.0.1", none, "POST", "[::1]:8080", ""));
        QVERIFY(!rl::check_request("127.0.0.1", none, "GET", "127.0.0.2", "text/plain"));  // only bodies matter
        QVERIFY(refused(rl::check_request("127.0.0.1", none, "POST", "127.0.0.1", "text/plain;charset=UTF-8"), 415));
        QVERIFY(refused(rl::check_request("127.0.0.1", none, "POST", "", "application/x-www-form-urlencoded"), 415));
        QVERIFY(refused(rl::check_request("127.0.0.1", none, "POST", "", " Multipart/Form-Data; boundary=x"), 415));
        const auto r = rl::check_request("127.0.0.1", none, "GET", "evil.example:8080", "");
        QVERIFY(refused(r, 403));
        QVERIFY2(r->message.find("evil.example") != std::string::npos && r->message.find("--allowed-host") != std::string::npos,
                 r->message.c_str());
        QVERIFY(refused(rl::check_request("localhost", none, "GET", "127.0.0.1.evil.example", ""), 403));
        QVERIFY(!rl::check_request("127.0.0.1", {"box.lan"}, "GET", "BOX.lan:8080", ""));
        QVERIFY(!rl::check_request("127.0.0.1", {"*"}, "GET", "anything", ""));
        // Bound elsewhere: no Host check unless names are listed, then only those (and loopback).
        QVERIFY(!rl::check_request("0.0.0.0", none, "GET", "gpu-box:8080", ""));
        QVERIFY(refused(rl::check_request("0.0.0.0", {"gpu-box"}, "GET", "other:8080", ""), 403));
        QVERIFY(!rl::check_request("0.0.0.0", {"gpu-box"}, "GET", "gpu-box:8080", ""));
        QCOMPARE(rl::host_of_header("[::1]:80"), std::string("::1"));
        QCOMPARE(rl::host_of_header("LocalHost:1"), std::string("localhost"));
        QVERIFY(!rl::is_loopback_name("127.0.0.1.evil"));
        QVERIFY(rl::is_loopback_name("127.1.2.3"));
    }
};

RL_TEST_MAIN(TestServeRequest, parseSpecialField, browserRequestsAreRefused, samplingDefaultsAsOpenAi, standardFieldsAtTheirDefaultsAreAccepted,
             otherValuesAreRefusedNamingTheField, sdkFieldsAreParsed, choiceSeeds, chunkAndUsageShapes, paramIsTheBareFieldName,
             developerRoleIsSystem)
#include "test_serve_request.moc"
