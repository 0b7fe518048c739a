// test_serve_request: rl::parse_api_request (server/openai_request.h) on its own, no model and no
// HTTP: OpenAI's sampling defaults (temperature 1, a fresh seed per request, an explicit seed
// kept), standard fields accepted at their defaults and refused otherwise with `param` naming
// them, fields accepted and ignored, the `developer` role, and bare field names in `param`.
// tests/test_serve.cpp drives the same parser through the real server.
#include "rl_test.h"

#include "server/openai_request.h"
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
        const std::vector<refused> cases = {
            {"logprobs", with("logprobs", true), "log-probabilities are not supported yet"},
            {"logprobs", with("logprobs", 2, {{"model", "m"}, {"prompt", "x"}}), "log-probabilities are not supported yet",
             false},
            {"logprobs", with("logprobs", "yes"), "must be a boolean"},
            {"top_logprobs", with("top_logprobs", 3), "log-probabilities are not supported yet"},
            {"presence_penalty", with("presence_penalty", 0.5), "not supported yet"},
            {"frequency_penalty", with("frequency_penalty", -1), "not supported yet"},
            {"frequency_penalty", with("frequency_penalty", 3), "between"},
            {"response_format", with("response_format", {{"type", "json_object"}}), "json_object"},
            {"response_format", with("response_format", "text"), "must be an object"},
            {"echo", with("echo", true), "not supported yet"},
            {"logit_bias", with("logit_bias", {{"50256", -100}}), "not supported yet"},
            {"store", with("store", "yes"), "must be a boolean"},
            {"metadata", with("metadata", {{"k", 1}}), "strings"},
            {"n", with("n", 2), "'n' must be 1"},
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
             otherValuesAreRefusedNamingTheField, paramIsTheBareFieldName, developerRoleIsSystem)
#include "test_serve_request.moc"
