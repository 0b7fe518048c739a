// test_serve_transport: the HTTP transport limits of the local API (server/http_gate.h) and
// cancellation when a client leaves, in-process over the real default model with a raw-socket
// client. Covers: a 100 MiB chunked body (413), 2 M headers (431) and the header-count bound, an
// absurd Content-Length (413 at once), 200 slow or idle sockets (a normal request answered within
// 1 s, the slow ones 408), a client that disconnects while its request is queued (cancelled
// before it runs, KV freed) and mid-generation without streaming (cancelled), and a draining stop
// (SIGTERM) cutting a stream (error event, then [DONE]). /health is checked after each.
#include "rl_test.h"
#include "serve_fixture.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

using namespace raw_http;

namespace {

// Sends `head`, then `chunk` up to `repeat` times, stopping at the first failed send (the server
// answered and closed); then reads the answer.
Reply sendFlood(int port, const std::string& head, const std::string& chunk, size_t repeat, const std::string& tail) {
    const int fd = connectTo(port);
    if (fd < 0 || !sendAll(fd, head)) return {};
    bool ok = true;
    for (size_t i = 0; i < repeat && ok; ++i) ok = sendAll(fd, chunk);
    if (ok) sendAll(fd, tail);
    std::string raw;
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, size_t(n));
    ::close(fd);
    return parseReply(raw);
}

bool healthy(int port) { return http(port, "GET", "/health").status == 200; }

// The engine's newest request record, once it has one more than `before`.
bool newestRecord(size_t before, rl::request_record& out) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
    while (std::chrono::steady_clock::now() < until) {
        const auto recs = fixture().engine->request_history();
        if (recs.size() > before) {
            out = recs.back();
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

bool waitFor(const std::function<bool(const rl::metrics_snapshot&)>& pred) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardS);
    while (std::chrono::steady_clock::now() < until) {
        if (pred(fixture().engine->snapshot())) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

} // namespace

class TestServeTransport : public QObject {
    Q_OBJECT
private slots:
    void chunkedBodyIsBoundedLikeContentLength() {
        Server s;   // default limit: 1 MiB
        const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        const std::string payload(64 << 10, ' ');   // JSON whitespace: valid if it were ever parsed
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", payload.size());
        const Reply r = sendFlood(s.port, head + "1\r\n{\r\n", size_line + payload + "\r\n", 1600, "0\r\n\r\n");  // 100 MiB
        QCOMPARE(r.status, 413);
        QVERIFY2(isOpenAiError(r), r.body.c_str());
        QCOMPARE(errorCode(r), std::string("payload_too_large"));
        QVERIFY(healthy(s.port));
        // A small chunked body is served.
        const std::string body = chat(s.model(), 1).dump();
        const std::string half = body.substr(0, body.size() / 2), rest = body.substr(body.size() / 2);
        char a[16], b[16];
        std::snprintf(a, sizeof a, "%zx", half.size());
        std::snprintf(b, sizeof b, "%zx", rest.size());
        const Reply ok = http(s.port, "", "", "", "",
                              head.substr(0, head.size() - 2) + "Connection: close\r\n\r\n" + a + "\r\n" + half +
                                  "\r\n" + b + "\r\n" + rest + "\r\n0\r\n\r\n");
        QVERIFY2(ok.status == 200, ok.body.c_str());
    }

    void headersAreBounded() {
        Server s;
        const std::string get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        Reply r = sendFlood(s.port, get, "X-A: b\r\n", 2'000'000, "\r\n");   // 2 M headers
        QCOMPARE(r.status, 431);
        QCOMPARE(errorCode(r), std::string("request_header_fields_too_large"));
        QVERIFY(healthy(s.port));
        std::string some;
        for (int i = 0; i < 98; ++i) some += "X-" + std::to_string(i) + ": b\r\n";
        QCOMPARE(http(s.port, "", "", "", "", get + some + "Connection: close\r\n\r\n").status, 200);   // 100 lines
        QCOMPARE(http(s.port, "", "", "", "", get + some + "X-a: b\r\nConnection: close\r\n\r\n").status, 431);
        QCOMPARE(http(s.port, "", "", "", "", get + "X-Big: " + std::string(40000, 'b') + "\r\n\r\n").status, 431);
        QVERIFY(healthy(s.port));
    }

    // Refused from the head alone: with every timeout far beyond the client's guard, an answer
    // that waited for the body would fail this test instead of arriving.
    void absurdContentLengthIsRefusedAtOnce() {
        rl::serve_options so;
        so.head_timeout_s = so.read_timeout_s = 10 * kGuardS;
        Server s(so);
        for (const char* len : {"100000000000000000000", "2097152"}) {
            const Reply r = http(s.port, "", "", "", "",
                                 std::string("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                             "application/json\r\nContent-Length: ") + len + "\r\n\r\n{");
            QCOMPARE(r.status, 413);
            QCOMPARE(errorCode(r), std::string("payload_too_large"));
        }
        QVERIFY(healthy(s.port));
    }

    // The functional bound: with 200 slow or idle sockets open, a normal request is
    // answered within 1 s, and the slow sockets get 408.
    void twoHundredSlowSocketsDoNotBlock() {
        rl::serve_options so;
        so.head_timeout_s = 3;   // short, so the test is quick; the default is 10 s
        Server s(so);
        std::vector<int> slow;
        for (int i = 0; i < 200; ++i) {
            const int fd = connectTo(s.port);
            QVERIFY(fd >= 0);
            if (i % 2) QVERIFY(sendAll(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
            slow.push_back(fd);
        }
        // Three normal requests at once, judged by the quickest: a server that waited on the slow
        // sockets would hold all three (until the 3 s head timeout), while on a loaded 2-core CI
        // machine one alone was once scheduled 1.02 s late.
        std::array<double, 3> took{};
        std::array<int, 3> status{};
        std::vector<std::thread> normal;
        for (size_t i = 0; i < took.size(); ++i)
            normal.emplace_back([&, i] {
                const auto t0 = std::chrono::steady_clock::now();
                status[i] = http(s.port, "GET", "/v1/models").status;
                took[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            });
        for (auto& t : normal) t.join();
        for (int st : status) QCOMPARE(st, 200);
        const double quickest = *std::min_element(took.begin(), took.end());
        QVERIFY2(quickest < 1.0,
                 ("a normal request took " + std::to_string(quickest) + " s behind 200 slow sockets").c_str());
        int timed_out = 0;
        for (int fd : slow) {
            std::string got;
            char buf[4096];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
            ::close(fd);
            const int status = parseReply(got).status;
            QVERIFY2(n == 0 && (status == 408 || status == 503), got.c_str());
            timed_out += status == 408;
        }
        QCOMPARE(timed_out, 200);
        QVERIFY(healthy(s.port));
    }

    // One seat: a request queued behind a running stream, whose client leaves, is cancelled
    // before it is ever prefilled, and its KV is never taken; streaming or not.
    void disconnectWhileQueuedCancels() {
        rl::engine& e = *fixture().engine;
        const rl::serving_config before = e.current_config();
        rl::serving_config one = before;
        one.max_num_seqs = 1;
        QCOMPARE(e.apply(one), std::string());
        Server s;
        const int runner = connectTo(s.port);
        QVERIFY(sendAll(runner, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 400, true).dump())));
        QCOMPARE(parseReply(readToFirstEvent(runner)).status, 200);
        for (bool stream : {false, true}) {
            const size_t records = e.request_history().size();
            const int fd = connectTo(s.port);
            QVERIFY(sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 50, stream).dump())));
            QVERIFY(waitFor([](const rl::metrics_snapshot& m) { return m.num_requests_waiting == 1; }));
            ::close(fd);
            QVERIFY(waitFor([](const rl::metrics_snapshot& m) { return m.num_requests_waiting == 0; }));
            rl::request_record rec;
            QVERIFY(newestRecord(records, rec));
            QVERIFY2(rec.cancelled && rec.generated_tokens == 0, stream ? "stream" : "plain");
            QCOMPARE(e.snapshot().num_requests_running, 1);   // only the runner
        }
        ::close(runner);
        QCOMPARE(e.apply(before), std::string());
        QVERIFY2(engineDrained(), "the engine still holds requests or KV blocks after the clients left");
        const std::string bad = e.check_kv_invariants();
        QVERIFY2(bad.empty(), bad.c_str());
        QVERIFY(healthy(s.port));
    }

    // A non-streaming request whose client leaves mid-generation stops there, not at max_tokens.
    void plainRequestCancelledWhenClientLeaves() {
        rl::engine& e = *fixture().engine;
        Server s;
        const size_t records = e.request_history().size();
        const uint64_t generated = e.snapshot().generation_tokens;
        const int fd = connectTo(s.port);
        QVERIFY(sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 450).dump())));
        QVERIFY(waitFor([&](const rl::metrics_snapshot& m) { return m.generation_tokens >= generated + 5; }));
        ::close(fd);
        rl::request_record rec;
        QVERIFY(newestRecord(records, rec));
        QVERIFY2(rec.cancelled && rec.generated_tokens < 450, std::to_string(rec.generated_tokens).c_str());
        QVERIFY(engineDrained());
        QVERIFY(healthy(s.port));
    }

    // SIGTERM in ridgeline-serve is drain_and_stop(--drain-timeout): a stream still running when
    // the drain time is up ends with an error event and [DONE] before its socket closes.
    void drainTimeoutEndsStreamWithErrorAndDone() {
        Server s;
        const int fd = connectTo(s.port);
        QVERIFY(sendAll(fd, rawRequest("POST", "/v1/chat/completions", chat(s.model(), 450, true).dump())));
        std::string got = readToFirstEvent(fd);
        QCOMPARE(parseReply(got).status, 200);
        s.api->drain_and_stop(0);
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
        ::close(fd);
        const size_t error = got.find("data: {\"error\""), done = got.find("data: [DONE]\n\n");
        QVERIFY2(error != std::string::npos && done != std::string::npos && error < done &&
                     got.find("data: ", done + 1) == std::string::npos,
                 got.substr(got.size() > 400 ? got.size() - 400 : 0).c_str());
        QVERIFY(engineDrained());
        Server next;   // the engine serves the next server
        QVERIFY(healthy(next.port));
    }
};

RL_TEST_MAIN(TestServeTransport, chunkedBodyIsBoundedLikeContentLength, headersAreBounded,
             absurdContentLengthIsRefusedAtOnce, twoHundredSlowSocketsDoNotBlock, disconnectWhileQueuedCancels,
             plainRequestCancelledWhenClientLeaves, drainTimeoutEndsStreamWithErrorAndDone)
#include "test_serve_transport.moc"
