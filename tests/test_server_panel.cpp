// test_server_panel: the OpenAI-compatible API inside the window (ui/ServerController, the "API
// server" dock). With the real default model on the CPU backend: the panel turns the server on
// at a free port, curl (through popen) gets /health, /v1/models and a chat completion whose
// request is recorded by the window's own engine under an API owner; turning it off releases the
// port. A port already in use gives one clear message in the banner and the window keeps working;
// the settings persist. Without cpp-httplib the panel says the server is not built.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_server_panel   (label gui)
#include "rl_test.h"

#include "EngineBridge.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "ServerController.h"
#include "ServingController.h"
#include "SettingsStore.h"
#include "runtime/engine.h"

#include <QCheckBox>
#include <QDockWidget>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct Reply {
    int status = 0;
    QByteArray body;
    int curlExit = -1;
};

// curl through popen; the status code follows the body after a marker.
Reply curl(int port, const char* path, const char* jsonBody = nullptr) {
    QByteArray cmd = "curl -sS -m 60 -o - -w '\\n@@STATUS %{http_code}' ";
    if (jsonBody) cmd += "-H 'Content-Type: application/json' --data-binary '" + QByteArray(jsonBody) + "' ";
    cmd += "'http://127.0.0.1:" + QByteArray::number(port) + path + "' 2>/dev/null";
    Reply r;
    FILE* p = popen(cmd.constData(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    QByteArray out;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, qsizetype(n));
    const int rc = pclose(p);
    r.curlExit = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    const qsizetype m = out.lastIndexOf("\n@@STATUS ");
    if (m >= 0) {
        r.status = out.mid(m + 10).trimmed().toInt();
        out.truncate(m);
    }
    r.body = out;
    return r;
}

// A listening TCP socket on 127.0.0.1 (port 0 = any); returns the fd and sets port.
int listenOn(int& port, bool reuseAddr) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    const int one = 1;
    if (reuseAddr) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

} // namespace

class TestServerPanel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void panelBuilds();
    void serveOnFreePortThenRelease();
    void portInUseGivesClearError();
    void settingsPersist();

private:
    template <class T> T* child(const char* name) const { return mWindow->findChild<T*>(QLatin1String(name)); }
    void enableAt(int port, const QString& key = QString());

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
    bool mLoaded = false;
};

void TestServerPanel::initTestCase() {
    std::signal(SIGPIPE, SIG_IGN);
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    mWindow = new MainWindow;
    mWindow->resize(1400, 900);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    if (!ServerController::isAvailable()) return;   // no model needed to see "not built"
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = false;
    s.serving = mWindow->serving()->config();
    QSignalSpy done(mWindow->bridge(), &EngineBridge::loaded);
    QSignalSpy failed(mWindow->bridge(), &EngineBridge::loadFailed);
    mWindow->loadModel(s);
    QVERIFY(QTest::qWaitFor([&] { return done.count() + failed.count() > 0; }, 120000));
    QVERIFY2(done.count() == 1, failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
    mLoaded = true;
}

void TestServerPanel::cleanupTestCase() {
    delete mWindow;   // stops the server before the engine goes
    mWindow = nullptr;
    mDir.reset();
}

void TestServerPanel::init() {
    if (mWindow->apiServer()->settings().enabled) child<QCheckBox>("serverEnabled")->setChecked(false);
    mWindow->banner()->hide();
}

void TestServerPanel::enableAt(int port, const QString& key) {
    child<QLineEdit>("serverHost")->setText(QStringLiteral("127.0.0.1"));
    child<QSpinBox>("serverPort")->setValue(port);
    child<QLineEdit>("serverApiKey")->setText(key);
    child<QCheckBox>("serverEnabled")->setChecked(true);   // applies the address, then starts
}

void TestServerPanel::panelBuilds() {
    QDockWidget* dock = mWindow->dock(QStringLiteral("serverDock"));
    QVERIFY(dock && dock->widget());
    auto* status = child<QLabel>("serverStatus");
    QVERIFY(status);
    QCOMPARE(child<QSpinBox>("serverPort")->value(), 8080);   // the defaults
    QCOMPARE(child<QLineEdit>("serverHost")->text(), QStringLiteral("127.0.0.1"));
    if (!ServerController::isAvailable()) {
        QVERIFY(status->text().contains(QStringLiteral("server not built (install libcpp-httplib-dev")));
        QVERIFY(!child<QCheckBox>("serverEnabled")->isEnabled());
        return;
    }
    QVERIFY(child<QCheckBox>("serverEnabled")->isEnabled());
    QCOMPARE(status->text(), QStringLiteral("Off."));
}

void TestServerPanel::serveOnFreePortThenRelease() {
    if (!ServerController::isAvailable()) QSKIP("built without cpp-httplib");
    QVERIFY(mLoaded);
    ServerController* srv = mWindow->apiServer();
    enableAt(0);   // any free port
    QVERIFY2(srv->isRunning(), qPrintable(srv->statusText()));
    const int port = srv->port();
    QVERIFY(port > 0);
    QVERIFY(child<QLabel>("serverStatus")->text().contains(QStringLiteral("http://127.0.0.1:%1/v1").arg(port)));

    const Reply health = curl(port, "/health");
    QCOMPARE(health.status, 200);
    QCOMPARE(QJsonDocument::fromJson(health.body).object().value("status").toString(), QStringLiteral("ok"));
    const Reply models = curl(port, "/v1/models");
    QCOMPARE(models.status, 200);
    const QJsonObject m = QJsonDocument::fromJson(models.body).object();
    QCOMPARE(m.value("data").toArray().first().toObject().value("id").toString(),
             QStringLiteral("SmolLM2-135M-Instruct.Q4_1"));

    // A completion runs on the window's engine, recorded under an API owner.
    const Reply chat = curl(port, "/v1/chat/completions",
                            R"({"model":"SmolLM2-135M-Instruct.Q4_1","max_tokens":3,"temperature":0,)"
                            R"("messages":[{"role":"user","content":"Hi"}]})");
    QCOMPARE(chat.status, 200);
    bool apiOwner = false;
    for (const rl::request_record& r : mWindow->bridge()->engine()->request_history())
        apiOwner = apiOwner || (r.owner & rl::kOwnerApiBit);
    QVERIFY(apiOwner);

    child<QCheckBox>("serverEnabled")->setChecked(false);
    QVERIFY(!srv->isRunning());
    QCOMPARE(srv->port(), -1);
    QCOMPARE(child<QLabel>("serverStatus")->text(), QStringLiteral("Off."));
    QCOMPARE(curl(port, "/health").curlExit, 7);   // connection refused: nobody listens
    int again = port;
    const int fd = listenOn(again, true);          // the port can be listened on again
    QVERIFY(fd >= 0);
    close(fd);
}

void TestServerPanel::portInUseGivesClearError() {
    if (!ServerController::isAvailable()) QSKIP("built without cpp-httplib");
    QVERIFY(mLoaded);
    int busy = 0;
    const int fd = listenOn(busy, false);
    QVERIFY(fd >= 0);
    QSignalSpy failed(mWindow->apiServer(), &ServerController::failed);
    enableAt(busy);
    close(fd);
    QCOMPARE(failed.count(), 1);   // said once
    ServerController* srv = mWindow->apiServer();
    QVERIFY(!srv->isRunning());
    QCOMPARE(int(srv->state()), int(ServerController::State::Failed));
    const QString expected = QStringLiteral("cannot listen on 127.0.0.1:%1 (address in use").arg(busy);
    QVERIFY2(mWindow->banner()->isVisible() && mWindow->banner()->text().contains(expected),
             qPrintable(mWindow->banner()->text()));
    QVERIFY(mWindow->banner()->text().startsWith(QStringLiteral("The API server could not start")));
    QVERIFY(child<QLabel>("serverStatus")->text().contains(expected));
    QVERIFY(!child<QCheckBox>("serverEnabled")->isChecked());   // off until asked again

    // The window keeps running: the server starts on a free port right after.
    enableAt(0);
    QVERIFY(srv->isRunning());
    QCOMPARE(curl(srv->port(), "/health").status, 200);
}

void TestServerPanel::settingsPersist() {
    if (!ServerController::isAvailable()) QSKIP("built without cpp-httplib");
    enableAt(0, QStringLiteral("sekret"));
    QVERIFY(mWindow->apiServer()->isRunning());
    const int port = mWindow->apiServer()->port();
    QCOMPARE(curl(port, "/v1/models").status, 401);   // the key is in force
    QCOMPARE(curl(port, "/health").status, 200);
    QVERIFY(mWindow->settings()->saveNow().isEmpty());

    SettingsStore again(nullptr, mDir->path());
    QVERIFY(again.load().isEmpty());
    const QJsonObject o = again.value(QStringLiteral("api_server")).toObject();
    QCOMPARE(o.value("enabled").toBool(), true);
    QCOMPARE(o.value("host").toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(o.value("port").toInt(), 0);
    QCOMPARE(o.value("api_key").toString(), QStringLiteral("sekret"));
    child<QCheckBox>("serverEnabled")->setChecked(false);
}

QTEST_MAIN(TestServerPanel)
#include "test_server_panel.moc"
