// test_serve_hostile: the local API (server/) against hostile or broken clients, in-process on
// 127.0.0.1 with the real default model on the CPU backend and a raw-socket client (so headers,
// half-sent requests and dropped connections are under the test's control). Covers: malformed
// JSON, wrong types and unknown fields (400, OpenAI error shape), a configurable body limit
// (413), a prompt longer than the context (400), slow clients that stall mid-headers (408 after
// the head timeout, holding no worker meanwhile), the connection cap (N+1 streams: 503 +
// Retry-After), the engine's "at capacity" (503 + Retry-After), KV bookkeeping sound after
// dropped streams (engine::check_kv_invariants), loopback-only binding by default, and web pages
// refused (a text/plain POST: 415; a foreign Host, DNS rebinding: 403), and a real SIGTERM to a
// ridgeline-serve process mid-stream (error event, [DONE], exit status 0).
// test_serve.cpp covers the normal paths, 404 model, 401 key, the default 1 MiB limit.
#include "rl_test.h"
#include "serve_fixture.h"

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
#include <QProcess>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using nlohmann::json;

namespace {

using namespace raw_http;

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
        bad.push_back({"response_format json_schema without a schema", with("response_format", {{"type", "json_schema"}})});
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

    // A client that sends half its headers and stalls (slowloris, or half-open) holds no worker:
    // with 2 workers, 2 stalled clients and a third one's request is served; the stalled ones
    // get 408 once the head timeout passes and their sockets reach EOF.
    void slowClientIsDisconnectedOthersServed() {
        rl::serve_options so;
        so.head_timeout_s = 2;   // short, so the test is quick; the default is 10 s
        so.keep_alive_timeout_s = 1;
        so.max_connections = 2;
        Server s(so);
        std::vector<int> slow;
        for (int i = 0; i < 2; ++i) {
            slow.push_back(connectTo(s.port));
            QVERIFY(slow.back() >= 0);
            QVERIFY(sendAll(slow.back(), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len"));
        }
        QCOMPARE(http(s.port, "GET", "/health").status, 200);
        for (int fd : slow) {
            std::string got;
            char buf[4096];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
            const int err = n < 0 ? errno : 0;
            ::close(fd);
            QVERIFY2(n == 0, ("the stalled connection was not closed by the server: " + std::string(std::strerror(err))).c_str());
            const Reply r = parseReply(got);
            QVERIFY2(r.status == 408, got.c_str());
            QCOMPARE(errorCode(r), std::string("request_timeout"));
        }
        QCOMPARE(http(s.port, "GET", "/health").status, 200);
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

    // The same promise through the real process: SIGTERM (drain timeout 0) reaches ridgeline-serve's
    // signal thread, the open stream ends with an error event and [DONE], and the process exits 0.
    void sigtermEndsStreamsWithDoneAndExitsZero() {
#ifndef RL_SERVE_EXE
        QSKIP("ridgeline-serve is not built here");
#else
        int port = -1;
        {   // a free port of 127.0.0.1 (closed again at once: a tiny race, fine for a test)
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof a;
            if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
                port = ntohs(a.sin_port);
            ::close(fd);
        }
        QVERIFY(port > 0);
        QProcess proc;
        proc.setProgram(QStringLiteral(RL_SERVE_EXE));
        proc.setArguments({"--model", RL_MODEL_PATH, "--backend", "cpu", "--port", QString::number(port),
                           "--max-context", "512", "--threads", "1", "--drain-timeout", "0", "--quiet"});
        proc.setProcessChannelMode(QProcess::ForwardedChannels);
        proc.start();
        QVERIFY(proc.waitForStarted(10000));
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
        while (http(port, "GET", "/health").status != 200 && proc.state() == QProcess::Running &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        QVERIFY2(proc.state() == QProcess::Running, "ridgeline-serve did not come up");
        const std::string model = rl::api_server::model_id_for(RL_MODEL_PATH);
        const int fd = connectTo(port);
        QVERIFY(fd >= 0 && sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(model, 400, true).dump())));
        std::string got = readToFirstEvent(fd);
        QCOMPARE(parseReply(got).status, 200);
        QCOMPARE(::kill(pid_t(proc.processId()), SIGTERM), 0);
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
        ::close(fd);
        const bool ended = proc.waitForFinished(kGuardS * 1000);
        if (!ended) proc.kill();
        QVERIFY2(ended, "ridgeline-serve did not exit after SIGTERM");
        QCOMPARE(proc.exitStatus(), QProcess::NormalExit);
        QCOMPARE(proc.exitCode(), 0);
        const std::string tail = got.substr(got.size() > 400 ? got.size() - 400 : 0);
        // The error event, then [DONE] as the last event (the transfer may be chunked around them).
        const size_t error = got.find("\"error\""), done = got.find("data: [DONE]");
        QVERIFY2(error != std::string::npos && done != std::string::npos && error < done, tail.c_str());
        QVERIFY2(got.find("data: ", done + 1) == std::string::npos, tail.c_str());
#endif
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
             queuedStreamAnswersAtOnce, shutdownEndsStreamsWithDone, drainLetsRunningStreamsFinish,
             sigtermEndsStreamsWithDoneAndExitsZero)
#include "test_serve_hostile.moc"
