// Remote mode end to end: a real ridgeline-serve process (the built executable, a synthetic model
// on the CPU backend, a free port of 127.0.0.1) is driven with curl while RemoteMetricsSource
// scrapes its /metrics; the scraped deltas must equal what the requests reported, and the frames
// must carry them into MetricsHistory as the plots read it. Also: a refused port, an HTTP error
// and a page that is not metrics each give their one clear message.
#include "rl_test.h"

#include "MetricsHistory.h"
#include "RemoteMetricsSource.h"

#include <QProcess>
#include <QTcpServer>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

int freePort() {
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0)) return -1;
    return s.serverPort();   // closed on return: a tiny race with other processes, fine for a test
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

// Waits (processing events) until `done` or `limitMs` passes; a liveness bound, not a measurement.
template <typename F>
bool waitFor(F done, int limitMs) {
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > limitMs) return false;
        QTest::qWait(50);
    }
    return true;
}

struct Server {
    QProcess proc;
    int port = -1;
    QString base() const { return QStringLiteral("http://127.0.0.1:%1").arg(port); }
    bool start() {
        port = freePort();
        proc.setProgram(QStringLiteral(RL_SERVE_EXE));
        proc.setArguments({"--model", "synthetic:smollm2-135m", "--backend", "cpu", "--port", QString::number(port),
                           "--max-context", "512", "--kv-blocks", "64", "--threads", "2", "--quiet"});
        proc.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        proc.start();
        if (!proc.waitForStarted(10000)) return false;
        const std::string health = "curl -s -o /dev/null -w '%{http_code}' " + base().toStdString() + "/health";
        return waitFor([&] { return proc.state() == QProcess::Running && run(health) == "200"; }, 60000);
    }
    ~Server() {
        if (proc.state() != QProcess::NotRunning) {
            proc.terminate();   // SIGTERM: ridgeline-serve stops cleanly
            if (!proc.waitForFinished(10000)) proc.kill();
        }
    }
};

Server& server() {
    static Server s;
    return s;
}

} // namespace

class TestRemoteServe : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY2(server().start(), "ridgeline-serve did not come up (see its stderr above)"); }

    void scrapesMatchRequests() {
        Server& s = server();
        RemoteMetricsSource src;
        src.setIntervalMs(200);
        std::vector<MetricsFrame> frames;
        QStringList failures;
        connect(&src, &RemoteMetricsSource::frameReady, this, [&](const MetricsFrame& f) { frames.push_back(f); });
        connect(&src, &RemoteMetricsSource::failed, this, [&](const QString& m) { failures << m; });
        const QUrl url = RemoteMetricsSource::normalizeUrl(s.base().mid(7));   // "127.0.0.1:port"
        QCOMPARE(url.toString(), s.base() + "/metrics");
        src.start(url);
        QVERIFY(src.markerText().startsWith(QStringLiteral("REMOTE: ") + url.toString() + " · scrape every 0.2 s"));
        QVERIFY2(waitFor([&] { return src.scrapeCount() >= 1; }, 20000), qPrintable(failures.join("; ")));
        const rl::remote_scrape before = src.lastScrape();
        QVERIFY(before.format == rl::remote_format::vllm);
        QCOMPARE(before.server, std::string("ridgeline-serve"));
        QVERIFY(src.markerText().endsWith(QStringLiteral("ridgeline-serve")));
        QCOMPARE(before.running, 0.0);
        QCOMPARE(before.kv_usage, 0.0);
        const size_t framesBefore = frames.size();

        // Two requests; their usage blocks say how many tokens the server counted.
        int generated = 0, prompted = 0;
        for (const char* prompt : {"The quick brown fox", "Once upon a time, far away,"}) {
            const nlohmann::json body = {{"model", "synthetic:smollm2-135m"}, {"prompt", prompt}, {"max_tokens", 8}, {"temperature", 0}};
            const std::string reply = run("curl -s -H 'Content-Type: application/json' -d '" + body.dump() + "' " +
                                          s.base().toStdString() + "/v1/completions");
            const nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
            QVERIFY2(!j.is_discarded() && j.contains("usage"), reply.c_str());
            generated += j["usage"]["completion_tokens"].get<int>();
            prompted += j["usage"]["prompt_tokens"].get<int>();
        }
        QVERIFY(generated > 0);
        // The counters reach the page when the engine records the steps: wait until they have.
        auto after = [&] { return src.lastScrape(); };
        QVERIFY2(waitFor([&] { return after().generation_tokens - before.generation_tokens >= generated &&
                                      after().ttft.count - before.ttft.count >= 2; }, 20000),
                 "the scraped counters never reached the requests' totals");
        QCOMPARE(after().generation_tokens - before.generation_tokens, double(generated));
        QCOMPARE(after().ttft.count - before.ttft.count, 2.0);
        // vllm:prompt_tokens_total counts whole prompts, cached prefixes included, as vLLM does.
        const double prefill = after().prompt_tokens - before.prompt_tokens;
        QCOMPARE(prefill, double(prompted));
        // Two more (idle) intervals, so the bins holding the last tokens lie behind the history's frontier.
        const int n = src.scrapeCount();
        QVERIFY(waitFor([&] { return src.scrapeCount() >= n + 2; }, 10000));
        src.stop();
        QVERIFY(failures.isEmpty());

        // Every interval's frame carries its deltas: their sum is the whole, in steps and in bins.
        double decodeSteps = 0, ttftSeen = 0;
        MetricsHistory history;
        for (size_t i = 0; i < frames.size(); ++i) {
            history.addFrame(frames[i]);
            if (i < framesBefore) continue;
            for (const rl::step_record& st : frames[i].snap.new_steps) decodeSteps += st.decode_tokens;
            ttftSeen += frames[i].snap.ttft_s.n;
            QVERIFY(frames[i].snap.kv_cache_usage_perc >= 0 && frames[i].snap.kv_cache_usage_perc <= 1);
            QCOMPARE(frames[i].snap.kv_used + frames[i].snap.kv_free, frames[i].snap.kv_total);
        }
        QCOMPARE(decodeSteps, double(generated));
        QCOMPARE(ttftSeen, 2.0);
        double binned = 0;
        for (int64_t b = history.begin(); b < history.end(); ++b) binned += history.bin(b).decodeTokS * MetricsHistory::kBinS;
        QVERIFY2(std::fabs(binned - generated) < 1e-6 * generated, qPrintable(QString("%1 vs %2").arg(binned).arg(generated)));
        const rl::remote_sample& last = src.lastSample();
        QVERIFY(last.t1_s > last.t0_s);
    }

    void refusedConnectionIsOneClearMessage() {
        const int port = freePort();   // nothing listens there now
        RemoteMetricsSource src;
        src.setIntervalMs(100);
        QStringList failures;
        connect(&src, &RemoteMetricsSource::failed, this, [&](const QString& m) { failures << m; });
        const QUrl url(QStringLiteral("http://127.0.0.1:%1/metrics").arg(port));
        src.start(url);
        QVERIFY(waitFor([&] { return !failures.isEmpty(); }, 10000));
        QTest::qWait(500);   // several more scrapes fail the same way...
        src.stop();
        QCOMPARE(failures.size(), 1);   // ...and are not reported again
        QVERIFY2(failures[0].contains(url.toString()) && failures[0].contains(QStringLiteral("refused"), Qt::CaseInsensitive),
                 qPrintable(failures[0]));
        QCOMPARE(src.lastError(), failures[0]);
        QVERIFY(!src.hasScrape());
    }

    void httpErrorAndNotMetrics() {
        Server& s = server();
        RemoteMetricsSource src;
        QStringList failures;
        connect(&src, &RemoteMetricsSource::failed, this, [&](const QString& m) { failures << m; });
        src.start(QUrl(s.base() + "/no-such-page"));
        QVERIFY(waitFor([&] { return !failures.isEmpty(); }, 10000));
        QVERIFY2(failures.last().contains(QStringLiteral("answered HTTP 404")), qPrintable(failures.last()));
        src.start(QUrl(s.base() + "/health"));   // JSON, not Prometheus text
        QVERIFY(waitFor([&] { return failures.size() >= 2; }, 10000));
        QVERIFY2(failures.last().startsWith(QStringLiteral("no vLLM, SGLang or llama-server metrics found at ") + s.base() + "/health"),
                 qPrintable(failures.last()));
        src.stop();
        QVERIFY(!RemoteMetricsSource::normalizeUrl(QStringLiteral("ftp://x/metrics")).isValid());
        QVERIFY(!RemoteMetricsSource::normalizeUrl(QStringLiteral("  ")).isValid());
        QCOMPARE(RemoteMetricsSource::normalizeUrl(QStringLiteral("https://h:1/custom")).toString(), QStringLiteral("https://h:1/custom"));
    }
};

RL_TEST_MAIN(TestRemoteServe, initTestCase, scrapesMatchRequests, refusedConnectionIsOneClearMessage, httpErrorAndNotMetrics)
#include "test_remote_serve.moc"
