// Remote mode in the window: MainWindow::watchRemote points the plots at a /metrics URL (here a
// tiny in-test HTTP responder serving the committed fixtures of tests/data/remote/), the plots show
// the REMOTE marker, the scraped numbers and a note wherever the server exports nothing for a plot
// (real llama-server pages: no KV gauge, no TTFT), a refused URL or an HTTP error gives one banner
// message (with the server's own hint), and watchLocal() returns to the local engine's
// presentation. No model is loaded: the local engine is not needed.
#include "EngineStatusBar.h"
#include "LivePlot.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "PlotsPanel.h"
#include "RemoteMetricsSource.h"
#include "SettingsStore.h"

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QTimer>
#include <QJsonObject>
#include <QLabel>
#include <QStatusBar>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cmath>
#include <memory>

namespace {

QByteArray fixture(const char* name) {
    QFile f(QStringLiteral(RL_TEST_DATA "/data/remote/") + QLatin1String(name));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Answers every GET with the next page; the last page is repeated (an idle server).
class FakeMetricsServer : public QTcpServer {
public:
    explicit FakeMetricsServer(QList<QByteArray> pages, QByteArray status = "200 OK",
                               QByteArray type = "text/plain; version=0.0.4")
        : mPages(std::move(pages)), mStatus(std::move(status)), mType(std::move(type)) {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    mRequest[s] += s->readAll();
                    if (!mRequest[s].contains("\r\n\r\n")) return;
                    mRequest.remove(s);
                    const QByteArray body = mPages[std::min<qsizetype>(mServed++, mPages.size() - 1)];
                    s->write("HTTP/1.1 " + mStatus + "\r\nContent-Type: " + mType + "\r\nConnection: close\r\n"
                             "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
                    s->disconnectFromHost();
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }
    int served() const { return mServed; }

private:
    QList<QByteArray> mPages;
    QByteArray mStatus, mType;
    QHash<QTcpSocket*, QByteArray> mRequest;
    int mServed = 0;
};

} // namespace

class TestRemoteWindow : public QObject {
    Q_OBJECT
private slots:
    void init() {
        mDir = std::make_unique<QTemporaryDir>();
        QVERIFY(mDir->isValid());
        qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
        mWindow = new MainWindow;
        mWindow->resize(1200, 800);
        mWindow->show();
        QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    }
    void cleanup() {
        delete mWindow;
        mWindow = nullptr;
        mDir.reset();
    }

    void watchShowsRemoteNumbersAndGoesBack() {
        FakeMetricsServer server({fixture("vllm-1.txt"), fixture("vllm-2.txt")});
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        const QUrl url(QStringLiteral("http://127.0.0.1:%1/metrics").arg(server.serverPort()));
        PlotsPanel* plots = mWindow->plotsPanel();
        auto* marker = plots->findChild<QLabel*>(QStringLiteral("remoteMarker"));
        auto* back = mWindow->findChild<QAction*>(QStringLiteral("watchLocalAction"));
        QVERIFY(marker && back && mWindow->findChild<QAction*>(QStringLiteral("watchRemoteAction")));
        QVERIFY(!marker->isVisible());
        QVERIFY(!back->isEnabled());

        auto* liveTokS = mWindow->statusBar()->findChild<QLabel*>(QStringLiteral("statusLiveTokS"));
        QVERIFY(liveTokS);
        mWindow->watchRemote(url);
        QVERIFY(plots->isRemote());
        // The status bar's live fields still describe this window's engine, and say so.
        QVERIFY2(liveTokS->toolTip().contains(QStringLiteral("remote server")), qPrintable(liveTokS->toolTip()));
        auto* status = qobject_cast<EngineStatusBar*>(mWindow->statusBar());
        QVERIFY(status);
        status->showLive(12.0, 3, 0.25);   // what a local metrics frame would show
        QVERIFY2(liveTokS->text().startsWith(QStringLiteral("local engine")), qPrintable(liveTokS->text()));
        // The server watched is remembered for the next time.
        const QJsonObject saved = mWindow->settings()->value(QStringLiteral("remote")).toObject();
        QCOMPARE(saved.value(QStringLiteral("url")).toString(), url.toString());
        QCOMPARE(saved.value(QStringLiteral("interval_ms")).toInt(), 2000);
        QVERIFY(marker->isVisible());
        QCOMPARE(marker->text(), QStringLiteral("REMOTE: %1 · scrape every 2 s").arg(url.toString()));
        QVERIFY(back->isEnabled());
        // Not in any server's /metrics: shown, and labelled so.
        QVERIFY(plots->plot(PlotsPanel::Utilization)->isVisible());
        QVERIFY(plots->plot(PlotsPanel::Utilization)->note().startsWith(QStringLiteral("not in /metrics")));
        QCOMPARE(plots->plot(PlotsPanel::KvCache)->yAxis->label(), QStringLiteral("% of pool"));

        mWindow->remoteSource()->setIntervalMs(150);   // the test need not wait 2 s per scrape
        QTRY_VERIFY_WITH_TIMEOUT(server.served() >= 4, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(plots->history().latest().steps >= 3, 20000);
        QVERIFY(marker->text().endsWith(QStringLiteral("scrape every 0.15 s · vLLM")));
        // The one non-idle interval carried vllm-2 minus vllm-1: 400 generated, 600 prompt tokens.
        double decode = 0, prefill = 0, maxBatch = 0, maxKv = 0;
        for (int64_t i = plots->history().begin(); i < plots->history().end(); ++i) {
            const HistoryBin& b = plots->history().bin(i);
            decode += b.decodeTokS * MetricsHistory::kBinS;
            prefill += b.prefillTokS * MetricsHistory::kBinS;
            maxBatch = std::max(maxBatch, b.batch);
            maxKv = std::max(maxKv, b.kvUsed);
        }
        QVERIFY2(std::fabs(decode - 400) < 1e-6, qPrintable(QString::number(decode)));
        QVERIFY2(std::fabs(prefill - 600) < 1e-6, qPrintable(QString::number(prefill)));
        QCOMPARE(maxBatch, 8.0);
        QCOMPARE(maxKv, 50.0);   // 0.5 of the pool, in percent units
        QVERIFY(mWindow->banner()->isHidden());
        // vLLM exports everything these plots draw but Ridgeline's own recomputed tokens.
        QCOMPARE(plots->plot(PlotsPanel::KvCache)->note(), QString());
        QCOMPARE(plots->plot(PlotsPanel::Latency)->note(), QString());
        QCOMPARE(plots->plot(PlotsPanel::Throughput)->note(), QString());
        QVERIFY(plots->plot(PlotsPanel::PrefixCache)->note().startsWith(QStringLiteral("recomputed tok/s")));

        mWindow->watchLocal();
        QVERIFY(!plots->isRemote());
        QVERIFY(!liveTokS->toolTip().contains(QStringLiteral("remote server")));
        QVERIFY2(liveTokS->text().startsWith(QStringLiteral("engine")), qPrintable(liveTokS->text()));
        QVERIFY(!marker->isVisible());
        QVERIFY(!back->isEnabled());
        QVERIFY(plots->plot(PlotsPanel::Utilization)->isVisible());
        QCOMPARE(plots->plot(PlotsPanel::Utilization)->note(), QString());
        QCOMPARE(plots->plot(PlotsPanel::PrefixCache)->note(), QString());
        QCOMPARE(plots->plot(PlotsPanel::KvCache)->yAxis->label(), QStringLiteral("% of pool"));
        QCOMPARE(plots->history().size(), int64_t(0));
        QVERIFY(!mWindow->remoteSource()->isRunning());
    }

    // File > Watch Remote Server: the dialog starts from the last server and interval watched
    // (settings.json "remote"), and OK starts watching with what it holds.
    void dialogStartsFromLastServer() {
        FakeMetricsServer server({fixture("vllm-1.txt")});
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        const QString url = QStringLiteral("http://127.0.0.1:%1/metrics").arg(server.serverPort());
        mWindow->settings()->setValue(QStringLiteral("remote"),
                                      QJsonObject{{QStringLiteral("url"), url}, {QStringLiteral("interval_ms"), 500}});
        QString seenUrl;
        double seenEvery = 0;
        QTimer::singleShot(0, this, [&] {
            auto* dlg = qobject_cast<QDialog*>(QApplication::activeModalWidget());
            if (!dlg) return;
            auto* edit = dlg->findChild<QLineEdit*>(QStringLiteral("remoteUrlEdit"));
            auto* every = dlg->findChild<QDoubleSpinBox*>(QStringLiteral("remoteIntervalSpin"));
            if (edit) seenUrl = edit->text();
            if (every) seenEvery = every->value();
            if (!qEnvironmentVariableIsEmpty("RIDGELINE_GRAB_DIALOG")) dlg->grab().save(qEnvironmentVariable("RIDGELINE_GRAB_DIALOG"));
            if (every) every->setValue(0.3);
            dlg->accept();
        });
        mWindow->findChild<QAction*>(QStringLiteral("watchRemoteAction"))->trigger();
        QCOMPARE(seenUrl, url);
        QCOMPARE(seenEvery, 0.5);
        QVERIFY(mWindow->remoteSource()->isRunning());
        QCOMPARE(mWindow->remoteSource()->url().toString(), url);
        QCOMPARE(mWindow->remoteSource()->intervalMs(), 300);
        QCOMPARE(mWindow->settings()->value(QStringLiteral("remote")).toObject().value(QStringLiteral("interval_ms")).toInt(), 300);
        mWindow->watchLocal();
    }

    // Real llama-server scrapes (dev/remote/scrape-llama-server.sh): the decode rate is live, and
    // the plots it has no metric for say so instead of drawing zeros.
    void llamaServerPlotsSayWhatIsMissing() {
        const QList<QByteArray> pages = {fixture("llamacpp-idle.txt"), fixture("llamacpp-mid.txt"),
                                         fixture("llamacpp-after.txt")};
        FakeMetricsServer server(pages);
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        PlotsPanel* plots = mWindow->plotsPanel();
        mWindow->watchRemote(QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(server.serverPort())), 150);
        QTRY_VERIFY_WITH_TIMEOUT(plots->history().latest().steps >= 3, 20000);
        LivePlot* kv = plots->plot(PlotsPanel::KvCache);
        QCOMPARE(kv->note(), QStringLiteral("llama-server exports no KV cache gauge"));
        QVERIFY(!kv->graph(0)->visible() && !kv->graph(1)->visible() && !kv->graph(2)->visible());
        QCOMPARE(kv->yAxis->label(), QString());   // no "% of pool" over an empty plot
        const QString latency = plots->plot(PlotsPanel::Latency)->note();
        QVERIFY2(latency.contains(QStringLiteral("TTFT: not exported by llama-server")), qPrintable(latency));
        QCOMPARE(plots->plot(PlotsPanel::Latency)->graph(2)->name(), QStringLiteral("TPOT mean"));
        QCOMPARE(plots->plot(PlotsPanel::Throughput)->note(), QString());   // both rates are live
        if (!qEnvironmentVariableIsEmpty("RIDGELINE_GRAB_PLOTS")) {
            mWindow->resize(1600, 1000);
            QTest::qWait(100);
            plots->flush();
            QTest::qWait(100);
            plots->grab().save(qEnvironmentVariable("RIDGELINE_GRAB_PLOTS"));
        }
        // The frames carried what the reader derives from the pages: the tokens of idle -> mid
        // -> after (the last page repeats, adding nothing).
        double want = 0;
        rl::remote_scrape prev, cur;
        std::string err;
        QVERIFY(rl::read_remote_scrape(pages[0].toStdString(), 0, "x", prev, err));
        for (int i = 1; i < pages.size(); ++i, prev = cur) {
            QVERIFY(rl::read_remote_scrape(pages[i].toStdString(), i, "x", cur, err));
            want += rl::remote_sample_between(prev, cur).generation_tokens;
        }
        double decode = 0;
        for (int64_t i = plots->history().begin(); i < plots->history().end(); ++i)
            decode += plots->history().bin(i).decodeTokS * MetricsHistory::kBinS;
        QVERIFY(want > 0);
        QVERIFY2(std::fabs(decode - want) < 1e-6, qPrintable(QStringLiteral("%1 vs %2").arg(decode).arg(want)));
        mWindow->watchLocal();
        QCOMPARE(kv->note(), QString());
        QVERIFY(kv->graph(0)->visible());
    }

    // llama-server started without --metrics answers 501 with a JSON error saying so: the banner
    // keeps that hint (the body is the real one, tests/data/remote/llamacpp-no-metrics.txt).
    void httpErrorKeepsTheServersHint() {
        FakeMetricsServer server({fixture("llamacpp-no-metrics.txt")}, "501 Not Implemented", "application/json");
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        mWindow->watchRemote(QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(server.serverPort())));
        QTRY_VERIFY_WITH_TIMEOUT(!mWindow->banner()->isHidden(), 10000);
        const QString text = mWindow->banner()->text();
        QVERIFY2(text.contains(QStringLiteral("answered HTTP 501")), qPrintable(text));
        QVERIFY2(text.endsWith(QStringLiteral(": This server does not support metrics endpoint. Start it with `--metrics`")),
                 qPrintable(text));
        mWindow->watchLocal();
    }

    void serverHintReadsErrorBodies() {
        QCOMPARE(RemoteMetricsSource::serverHint(R"({"error":{"code":501,"message":"Start it with `--metrics`"}})"),
                 QStringLiteral("Start it with `--metrics`"));
        QCOMPARE(RemoteMetricsSource::serverHint(R"({"error":"bad key"})"), QStringLiteral("bad key"));
        QCOMPARE(RemoteMetricsSource::serverHint(R"({"detail":"Not Found"})"), QStringLiteral("Not Found"));
        QCOMPARE(RemoteMetricsSource::serverHint("\n  no such page  \nsecond line"), QStringLiteral("no such page"));
        QCOMPARE(RemoteMetricsSource::serverHint("<html><body>404</body></html>"), QString());
        QCOMPARE(RemoteMetricsSource::serverHint(""), QString());
        QCOMPARE(RemoteMetricsSource::serverHint(QByteArray(1000, 'x')).size(), 300);
    }

    void refusedUrlShowsOneMessage() {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();   // nothing listens there now
        mWindow->watchRemote(QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(port)));
        QTRY_VERIFY_WITH_TIMEOUT(!mWindow->banner()->isHidden(), 10000);
        QVERIFY2(mWindow->banner()->text().startsWith(QStringLiteral("Remote metrics: Cannot scrape http://127.0.0.1:")),
                 qPrintable(mWindow->banner()->text()));
        QVERIFY(mWindow->banner()->kind() == MessageBanner::Kind::Error);
        QVERIFY(mWindow->isVisible());   // the window keeps running
        mWindow->watchLocal();
    }

private:
    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

QTEST_MAIN(TestRemoteWindow)
#include "test_remote_window.moc"
