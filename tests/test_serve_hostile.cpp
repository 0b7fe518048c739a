// test_serve_hostile: the local API (server/) against hostile or broken clients, in-process on
// 127.0.0.1 with the real default model on the CPU backend and a raw-socket client (so headers,
// half-sent requests and dropped connections are under the test's control). Covers: malformed
// JSON, wrong types and unknown fields (400, OpenAI error shape), a configurable body limit
// (413), a prompt longer than the context (400), a slow client that stalls mid-headers (closed
// after the read timeout while others are served), the connection cap (N+1 streams: 503 +
// Retry-After), the engine's "at capacity" (503 + Retry-After), KV bookkeeping sound after
// dropped streams (engine::check_kv_invariants), loopback-only binding by default, and web pages
// refused (a text/plain POST: 415; a foreign Host, DNS rebinding: 403).
// test_serve.cpp covers the normal paths, 404 model, 401 key, the default 1 MiB limit.
#include "rl_test.h"

#include "server/api_server.h"
#include "runtime/engine.h"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <ifaddrs.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using nlohmann::json;

namespace {

// Liveness guards only (a hung server fails the test instead of hanging it), never thresholds.
constexpr int kGuardS = 120;

struct Fixture {
    std::unique_ptr<rl::engine> engine;
    Fixture() {
        std::signal(SIGPIPE, SIG_IGN);
        rl::engine_options o;
        o.model_path = RL_MODEL_PATH;
        o.backend = "cpu";
        o.max_context = 512;
        o.calibrate = false;
        o.serving.max_num_seqs = 4;
        o.serving.kv_blocks = 96;
        engine = rl::engine::create(o);
    }
};
Fixture& fixture() {
    static Fixture f;
    return f;
}

// One rl::api_server on an ephemeral port of the shared engine, running until destroyed.
struct Server {
    std::unique_ptr<rl::api_server> api;
    std::thread thread;
    int port = -1;
    explicit Server(rl::serve_options so = {}) {
        so.port = 0;
        api = std::make_unique<rl::api_server>(*fixture().engine, rl::api_server::model_id_for(RL_MODEL_PATH), so);
        std::string error;
        port = api->bind(error);
        if (port > 0) thread = std::thread([a = api.get()] { a->run(); });
    }
    ~Server() {
        api->stop();
        if (thread.joinable()) thread.join();
    }
    std::string model() const { return api->model_id(); }
};

int connectTo(int port, const std::string& ip = "127.0.0.1") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{kGuardS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
        const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

std::string rawRequest(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& extraHeaders = "") {
    return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n" + extraHeaders + "Connection: close\r\n\r\n" + body;
}

struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;   // lower-case names
    std::string body;
};

Reply parseReply(const std::string& raw) {
    Reply r;
    const size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
    r.status = std::atoi(raw.c_str() + 9);
    size_t at = raw.find("\r\n") + 2;
    while (at < end) {
        const size_t eol = raw.find("\r\n", at);
        const std::string line = raw.substr(at, eol - at);
        const size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
        at = eol + 2;
    }
    r.body = raw.substr(end + 4);
    return r;
}

// What a stream's socket holds up to its first SSE event (headers included), or to EOF.
std::string readToFirstEvent(int fd) {
    std::string got;
    char buf[4096];
    ssize_t n;
    while (got.find("data: ") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
    return got;
}

// Sends one request (raw: exactly these bytes) with Connection: close and reads the whole answer.
Reply http(int port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& extraHeaders = "", const std::string& raw_request = "") {
    const int fd = connectTo(port);
    if (fd < 0) return {};
    sendAll(fd, raw_request.empty() ? rawRequest(method, path, body, extraHeaders) : raw_request);
    std::string raw;
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, size_t(n));
    ::close(fd);
    return parseReply(raw);
}

std::string header(const Reply& r, const std::string& name) {
    const auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
}

// The OpenAI error shape: {"error": {"message": "...", "type": "...", "code": ..., "param": ...}}.
bool isOpenAiError(const Reply& r, const std::string& type = "invalid_request_error") {
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error") || !j["error"].is_object()) return false;
    const json& e = j["error"];
    return e.contains("message") && e["message"].is_string() && !e["message"].get<std::string>().empty() &&
           e.value("type", "") == type && e.contains("code") && e.contains("param");
}

std::string errorCode(const Reply& r) {
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j["error"]["code"].is_string()) return "";
    return j["error"]["code"].get<std::string>();
}

json chat(const std::string& model, int maxTokens, bool stream = false) {
    return {{"model", model}, {"messages", {{{"role", "user"}, {"content", "Tell me a long story about a lighthouse."}}}},
            {"max_tokens", maxTokens}, {"temperature", 0}, {"stream", stream}};
}

// Waits (bounded by the liveness guard) until the engine holds no request and no KV block.
bool engineDrained() {
    rl::engine& e = *fixture().engine;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
    while (std::chrono::steady_clock::now() < until) {
        const rl::metrics_snapshot s = e.snapshot();
        if (s.num_requests_running == 0 && s.num_requests_waiting == 0 && s.kv_used == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

} // namespace

class TestServeHostile : public QObject {
    Q_OBJECT
private slots:
    void malformedBodiesAre400WithOpenAiErrors() {
        Server s;
        QVERIFY(s.port > 0);
        const std::string m = s.model();
        json base = chat(m, 4);
        std::vector<std::pair<std::string, std::string>> bad = {
            {"empty body", ""},
            {"not JSON", "hello there"},
            {"truncated JSON", "{\"model\": \"" + m + "\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}"},
            {"an array", "[1, 2, 3]"},
            {"invalid UTF-8", "{\"model\": \"" + m + "\", \"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}"},
            {"deep nesting", std::string(200000, '[') + std::string(200000, ']')},
        };
        auto with = [&](const char* key, json v) {
            json b = base;
            b[key] = std::move(v);
            return b.dump();
        };
        bad.push_back({"model a number", with("model", 7)});
        bad.push_back({"messages a string", with("messages", "hi")});
        bad.push_back({"messages empty", with("messages", json::array())});
        bad.push_back({"role unknown", with("messages", json::array({{{"role", "wizard"}, {"content", "hi"}}}))});
        bad.push_back({"content a number", with("messages", json::array({{{"role", "user"}, {"content", 5}}}))});
        bad.push_back({"message field unknown", with("messages", json::array({{{"role", "user"}, {"content", "x"}, {"tool", 1}}}))});
        bad.push_back({"max_tokens a string", with("max_tokens", "10")});
        bad.push_back({"max_tokens 0", with("max_tokens", 0)});
        bad.push_back({"max_tokens fractional", with("max_tokens", 1.5)});
        bad.push_back({"max_tokens 2^64-1", with("max_tokens", json::parse("18446744073709551615"))});
        bad.push_back({"temperature a string", with("temperature", "hot")});
        bad.push_back({"temperature 5", with("temperature", 5)});
        bad.push_back({"top_p negative", with("top_p", -1)});
        bad.push_back({"stream a string", with("stream", "yes")});
        bad.push_back({"17 stop strings", with("stop", json(std::vector<std::string>(17, "x")))});
        bad.push_back({"empty stop string", with("stop", json::array({""}))});
        bad.push_back({"n 0", with("n", 0)});
        bad.push_back({"unknown field", with("frobnicate", json::array())});
        bad.push_back({"tools", with("tools", json::array())});
        bad.push_back({"stream_options unknown", with("stream_options", {{"foo", true}})});
        bad.push_back({"logprobs a count on chat", with("logprobs", 3)});
        bad.push_back({"presence_penalty 3", with("presence_penalty", 3)});
        bad.push_back({"response_format json_schema", with("response_format", {{"type", "json_schema"}})});
        bad.push_back({"logit_bias 500", with("logit_bias", {{"42", 500}})});
        for (const auto& [what, body] : bad) {
            const Reply r = http(s.port, "POST", "/v1/chat/completions", body);
            QVERIFY2(r.status == 400, (what + ": status " + std::to_string(r.status) + " " + r.body).c_str());
            QVERIFY2(isOpenAiError(r), (what + ": not an OpenAI error body: " + r.body).c_str());
            QVERIFY2(header(r, "content-type").rfind("application/json", 0) == 0, what.c_str());
        }
        const Reply alive = http(s.port, "GET", "/health");
        QCOMPARE(alive.status, 200);
    }

    void promptLongerThanTheContextIs400() {
        Server s;
        std::string longText;
        for (int i = 0; i < 700; ++i) longText += "lighthouse ";   // well over 512 tokens
        json b = chat(s.model(), 4);
        b["messages"][0]["content"] = longText;
        Reply r = http(s.port, "POST", "/v1/chat/completions", b.dump());
        QCOMPARE(r.status, 400);
        QVERIFY2(isOpenAiError(r), r.body.c_str());
        QCOMPARE(errorCode(r), std::string("context_length_exceeded"));
        json c = {{"model", s.model()}, {"prompt", "Once upon a time"}, {"max_tokens", 10000}};
        r = http(s.port, "POST", "/v1/completions", c.dump());
        QCOMPARE(r.status, 400);
        QCOMPARE(errorCode(r), std::string("context_length_exceeded"));
        QCOMPARE(json::parse(r.body)["error"]["param"].get<std::string>(), std::string("max_tokens"));
    }

    void bodyLimitIsConfigurable() {
        rl::serve_options so;
        so.max_body_bytes = 4096;
        Server s(so);
        json b = chat(s.model(), 1);
        b["user"] = std::string(5000, 'u');
        Reply r = http(s.port, "POST", "/v1/chat/completions", b.dump());
        QCOMPARE(r.status, 413);
        QVERIFY2(isOpenAiError(r), r.body.c_str());
        QCOMPARE(errorCode(r), std::string("payload_too_large"));
        b["user"] = std::string(3000, 'u');   // under the limit: served
        r = http(s.port, "POST", "/v1/chat/completions", b.dump());
        QVERIFY2(r.status == 200, r.body.c_str());
    }

    // What a web page can send to a loopback server: a text/plain POST (no CORS preflight) and,
    // through DNS rebinding, its own Host. Both refused before the body is read.
    void webPagesAreRefused() {
        Server s{rl::serve_options{}};
        const std::string body = chat(s.model(), 1).dump();
        auto raw = [&](const std::string& host, const std::string& type) {
            return "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: " + type +
                   "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        };
        Reply r = http(s.port, "", "", "", "", raw("127.0.0.1", "text/plain;charset=UTF-8"));
        QCOMPARE(r.status, 415);
        QCOMPARE(errorCode(r), std::string("unsupported_media_type"));
        r = http(s.port, "", "", "", "", raw("attacker.example:" + std::to_string(s.port), "application/json"));
        QCOMPARE(r.status, 403);
        QCOMPARE(errorCode(r), std::string("host_not_allowed"));
        r = http(s.port, "", "", "", "", raw("localhost:" + std::to_string(s.port), "application/json"));
        QVERIFY2(r.status == 200, r.body.c_str());
    }

    void slowClientIsDisconnectedOthersServed() {
        rl::serve_options so;
        so.read_timeout_s = 2;   // short, so the test is quick; the default is 30 s
        so.keep_alive_timeout_s = 1;
        so.max_connections = 2;
        Server s(so);
        // Half the headers, then silence: a slowloris or a half-open client.
        const int slow = connectTo(s.port);
        QVERIFY(slow >= 0);
        QVERIFY(sendAll(slow, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len"));
        // While it stalls, the other worker serves.
        QCOMPARE(http(s.port, "GET", "/health").status, 200);
        // The server gives up on it: the socket reaches EOF (maybe after a 400), never the guard.
        std::string got;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(slow, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
        const int err = n < 0 ? errno : 0;
        ::close(slow);
        QVERIFY2(n == 0 || err == ECONNRESET, ("the stalled connection was not closed by the server: " +
                                                std::string(std::strerror(err))).c_str());
        QVERIFY2(got.empty() || parseReply(got).status == 400, got.c_str());

        // Two stalled clients take both workers: a third is refused at once (503), and once the
        // server has dropped them, requests are served again (their workers came back). A retry
        // covers the case where the probe reached a worker before both stalled clients did.
        Reply busy;
        for (int attempt = 0; attempt < 5 && busy.status != 503; ++attempt) {
            const int a = connectTo(s.port), b = connectTo(s.port);
            QVERIFY(sendAll(a, "GET /health HTTP/1.1\r\n") && sendAll(b, "GET /health HTTP/1.1\r\n"));
            std::this_thread::sleep_for(std::chrono::milliseconds(200));   // let the server take them
            busy = http(s.port, "GET", "/health");
            for (int fd : {a, b}) {
                while (::recv(fd, buf, sizeof buf, 0) > 0) {
                }
                ::close(fd);
            }
        }
        QCOMPARE(busy.status, 503);
        QCOMPARE(header(busy, "retry-after"), std::string("1"));
        QCOMPARE(header(busy, "connection"), std::string("close"));
        QCOMPARE(errorCode(busy), std::string("too_many_connections"));
        Reply again;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
        while (again.status != 200 && std::chrono::steady_clock::now() < until) again = http(s.port, "GET", "/health");
        QCOMPARE(again.status, 200);
    }

    void connectionCapWithStreams() {
        rl::serve_options so;
        so.max_connections = 2;
        Server s(so);
        const std::string body = chat(s.model(), 400, true).dump();
        std::vector<int> streams;
        for (int i = 0; i < 2; ++i) {   // N = 2 streams, each read up to its first chunk
            const int fd = connectTo(s.port);
            QVERIFY(fd >= 0 && sendAll(fd, rawRequest("POST", "/v1/chat/completions", body)));
            const std::string got = readToFirstEvent(fd);
            QVERIFY2(got.find("data: ") != std::string::npos, got.c_str());
            QCOMPARE(parseReply(got).status, 200);
            streams.push_back(fd);
        }
        // The N+1th connection, a completion with a body, is refused with a JSON 503.
        const Reply r = http(s.port, "POST", "/v1/chat/completions", chat(s.model(), 4).dump());
        QCOMPARE(r.status, 503);
        QCOMPARE(header(r, "retry-after"), std::string("1"));
        QVERIFY2(isOpenAiError(r, "server_busy"), r.body.c_str());
        QCOMPARE(errorCode(r), std::string("too_many_connections"));
        // The streaming clients vanish mid-stream: their requests are cancelled, their KV blocks
        // freed, and the block manager's bookkeeping stays sound.
        for (int fd : streams) ::close(fd);
        QVERIFY2(engineDrained(), "the engine still holds requests or KV blocks after the clients left");
        const std::string bad = fixture().engine->check_kv_invariants();
        QVERIFY2(bad.empty(), bad.c_str());
        const Reply ok = http(s.port, "POST", "/v1/chat/completions", chat(s.model(), 2).dump());
        QVERIFY2(ok.status == 200, ok.body.c_str());
    }

    void engineAtCapacityIs503() {
        rl::engine& e = *fixture().engine;
        const rl::serving_config before = e.current_config();
        rl::serving_config full = before;
        full.max_waiting = 0;   // admission control refuses every new request
        QCOMPARE(e.apply(full), std::string());
        Server s;
        const Reply r = http(s.port, "POST", "/v1/chat/completions", chat(s.model(), 4).dump());
        const Reply st = http(s.port, "POST", "/v1/chat/completions", chat(s.model(), 4, true).dump());
        QCOMPARE(e.apply(before), std::string());
        QCOMPARE(r.status, 503);
        QCOMPARE(header(r, "retry-after"), std::string("1"));
        QVERIFY2(isOpenAiError(r, "server_busy"), r.body.c_str());
        QCOMPARE(errorCode(r), std::string("at_capacity"));
        QCOMPARE(st.status, 503);   // a stream is refused before its headers go out
        QCOMPARE(errorCode(st), std::string("at_capacity"));
        const std::string bad = e.check_kv_invariants();
        QVERIFY2(bad.empty(), bad.c_str());
    }

    // A stream queued behind a full batch gets its headers and first chunk (the role) at once,
    // not when its first token comes: idle-timeout proxies would drop a silent socket.
    void queuedStreamAnswersAtOnce() {
        rl::engine& e = *fixture().engine;
        const rl::serving_config before = e.current_config();
        rl::serving_config one = before;
        one.max_num_seqs = 1;
        QCOMPARE(e.apply(one), std::string());
        Server s;
        const std::string body = chat(s.model(), 400, true).dump();
        std::vector<int> fds;
        for (int i = 0; i < 2; ++i) {  // the first holds the only seat, the second waits for it
            const int fd = connectTo(s.port);
            QVERIFY(fd >= 0 && sendAll(fd, rawRequest("POST", "/v1/chat/completions", body)));
            const std::string got = readToFirstEvent(fd);
            QCOMPARE(parseReply(got).status, 200);
            fds.push_back(fd);
        }
        // Had the second waited for its first token, the first would have finished (the seat
        // frees only then) and its [DONE] would be in its socket already.
        std::string first;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fds[0], buf, sizeof buf, MSG_DONTWAIT)) > 0) first.append(buf, size_t(n));
        QVERIFY2(first.find("[DONE]") == std::string::npos, "the queued stream answered only after the first ended");
        const std::string stats = fixture().engine->check_kv_invariants();
        for (int fd : fds) ::close(fd);
        QCOMPARE(e.apply(before), std::string());
        QVERIFY2(engineDrained(), "the engine still holds requests after the clients left");
        QVERIFY2(stats.empty(), stats.c_str());
    }

    // Shutdown (SIGTERM in ridgeline-serve) ends an open stream with an error event and [DONE]
    // before its socket closes, as docs/api.md promises.
    void shutdownEndsStreamsWithDone() {
        Server s;
        const int fd = connectTo(s.port);
        QVERIFY(fd >= 0 && sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 400, true).dump())));
        std::string got = readToFirstEvent(fd);
        char buf[4096];
        ssize_t n;
        QCOMPARE(parseReply(got).status, 200);
        s.api->stop();
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
        ::close(fd);
        QVERIFY2(got.find("\"error\"") != std::string::npos && got.find("data: [DONE]") != std::string::npos,
                 got.substr(got.size() > 400 ? got.size() - 400 : 0).c_str());
        QVERIFY2(engineDrained(), "the engine still holds the stopped stream's request");
    }

    // A draining stop (SIGTERM in ridgeline-serve): new requests get 503 at once, and a running
    // stream finishes normally (finish_reason, no error event) before the server stops.
    void drainLetsRunningStreamsFinish() {
        Server s;
        const int fd = connectTo(s.port);
        QVERIFY(fd >= 0 && sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 40, true).dump())));
        std::string got = readToFirstEvent(fd);
        QCOMPARE(parseReply(got).status, 200);
        std::thread drain([&] { s.api->drain_and_stop(kGuardS); });
        // (A request that slips in before the drain thread begins is still served: ask until one
        // is not.)
        Reply refused;
        do refused = http(s.port, "POST", "/v1/chat/completions", chat(s.model(), 1).dump());
        while (refused.status == 200);
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
        ::close(fd);
        drain.join();
        QCOMPARE(refused.status, 503);
        QVERIFY2(isOpenAiError(refused, "server_busy"), refused.body.c_str());
        QVERIFY2(got.find("\"finish_reason\":\"") != std::string::npos && got.find("\"error\"") == std::string::npos &&
                     got.find("data: [DONE]") != std::string::npos,
                 got.substr(got.size() > 400 ? got.size() - 400 : 0).c_str());
        QVERIFY2(engineDrained(), "the engine still holds the drained stream's request");
    }

    void listensOnLoopbackOnlyByDefault() {
        QCOMPARE(rl::serve_options{}.host, std::string("127.0.0.1"));
        Server s;
        QCOMPARE(http(s.port, "GET", "/health").status, 200);
        // Every non-loopback IPv4 address of this machine must refuse the port.
        ifaddrs* list = nullptr;
        QVERIFY(getifaddrs(&list) == 0);
        int tried = 0;
        for (ifaddrs* i = list; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, ip, sizeof ip);
            if (std::string(ip).rfind("127.", 0) == 0) continue;
            const int fd = connectTo(s.port, ip);
            if (fd >= 0) ::close(fd);
            QVERIFY2(fd < 0, (std::string("reachable on ") + ip).c_str());
            ++tried;
        }
        freeifaddrs(list);
        if (!tried) std::printf("NOTE   : no non-loopback IPv4 address here; only the default host was checked\n");
    }
};

RL_TEST_MAIN(TestServeHostile, malformedBodiesAre400WithOpenAiErrors, promptLongerThanTheContextIs400,
             bodyLimitIsConfigurable, slowClientIsDisconnectedOthersServed, connectionCapWithStreams,
             engineAtCapacityIs503, listensOnLoopbackOnlyByDefault, webPagesAreRefused,
             queuedStreamAnswersAtOnce, shutdownEndsStreamsWithDone, drainLetsRunningStreamsFinish)
#include "test_serve_hostile.moc"
