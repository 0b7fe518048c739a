// Remote mode in the window: MainWindow::watchRemote points the plots at a /metrics URL (here a
// tiny in-test HTTP responder serving the committed vLLM fixtures), the plots show the REMOTE
// marker and the scraped numbers, a refused URL gives one banner message, and watchLocal() returns
// to the local engine's presentation. No model is loaded: the local engine is not needed.
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

#include <memory>

namespace {

QByteArray fixture(const char* name) {
    QFile f(QStringLiteral(RL_TEST_DATA "/data/remote/") + QLatin1String(name));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Answers every GET with the next page; the last page is repeated (an idle server).
class FakeMetricsServer : public QTcpServer {
public:
    explicit FakeMetricsServer(QList<QByteArray> pages) : mPages(std::move(pages)) {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    mRequest[s] += s->readAll();
                    if (!mRequest[s].contains("\r\n\r\n")) return;
                    mRequest.remove(s);
                    const QByteArray body = mPages[std::min<qsizetype>(mServed++, mPages.size() - 1)];
                    s->write("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n"
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
        QVERIFY(!plots->plot(PlotsPanel::Utilization)->isVisible());   // not available remotely
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

        mWindow->watchLocal();
        QVERIFY(!plots->isRemote());
        QVERIFY(!liveTokS->toolTip().contains(QStringLiteral("remote server")));
        QVERIFY2(liveTokS->text().startsWith(QStringLiteral("engine")), qPrintable(liveTokS->text()));
        QVERIFY(!marker->isVisible());
        QVERIFY(!back->isEnabled());
        QVERIFY(plots->plot(PlotsPanel::Utilization)->isVisible());
        QCOMPARE(plots->plot(PlotsPanel::KvCache)->yAxis->label(), QStringLiteral("blocks"));
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
