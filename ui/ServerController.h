// ServerController: the OpenAI-compatible API (server/'s rl::api_server) inside the window, on the
// very engine EngineBridge owns, so API clients show in the plots and the KV map as their own
// owners (kOwnerApiBit). Holds the persisted settings ("api_server" {enabled, host, port,
// api_key} in SettingsStore), starts the server when enabled and a model is loaded, stops it
// before the engine is unloaded (and restarts it on the next model), and reports a failed bind
// once through failed() while the app keeps running. Without RL_HAVE_SERVE (no cpp-httplib at
// build time) it compiles to a stub whose isAvailable() is false.
// Qt-Core only. Exercise: tests/test_server_panel.cpp.
#pragma once
#include <QObject>
#include <QString>

#include <atomic>
#include <memory>
#include <thread>

namespace rl {
class api_server;
}
class EngineBridge;
class SettingsStore;

struct ApiServerSettings {
    bool enabled = false;
    QString host = QStringLiteral("127.0.0.1");
    int port = 8080;      // 0 = any free port (the bound one is port())
    QString apiKey;       // non-empty: /v1/* need "Authorization: Bearer KEY"
    bool operator==(const ApiServerSettings&) const = default;
};

class ServerController : public QObject {
    Q_OBJECT
public:
    enum class State { Off, WaitingForModel, Running, Failed, NotBuilt };

    ServerController(EngineBridge* bridge, SettingsStore* settings, QObject* parent = nullptr);
    ~ServerController() override;

    /// False when this build has no cpp-httplib (the server library was not built).
    static bool isAvailable();
    static QString notBuiltMessage();

    ApiServerSettings settings() const { return mSettings; }
    /// Persists and applies: enabled starts (or restarts on a changed address), disabled stops.
    void setSettings(const ApiServerSettings& s);
    void setEnabled(bool on);

    State state() const { return mState; }
    bool isRunning() const { return mState == State::Running; }
    /// The port bound while running (the real one when settings().port is 0); -1 otherwise.
    int port() const { return mPort; }
    QString url() const;
    QString lastError() const { return mError; }
    /// One line for the panel: where it listens, why it is not running.
    QString statusText() const;

    /// Stops the server and waits for its threads: call before the engine goes away.
    void shutdown();

signals:
    void stateChanged();
    /// A bind that failed (port in use, an address not of this machine): said once per attempt.
    void failed(const QString& message);

private:
    void apply();
    void start();
    void stop();
    void setState(State s);
    void save();

    EngineBridge* mBridge;
    SettingsStore* mStore;
    ApiServerSettings mSettings;
    State mState = State::Off;
    int mPort = -1;
    QString mError;
    QString mModelId;
    std::unique_ptr<rl::api_server> mServer;
    std::thread mThread;
    std::atomic<bool> mListenDone{false};
};
