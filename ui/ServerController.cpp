// ServerController: see ServerController.h. The server runs on a thread of its own (httplib's
// listen loop); everything else happens on the GUI thread.
#include "ServerController.h"

#include "EngineBridge.h"
#include "SettingsStore.h"

#include <QFileInfo>
#include <QJsonObject>

#include <chrono>

#if defined(RL_HAVE_SERVE)
#include "server/api_server.h"
#include "runtime/engine.h"
#else
namespace rl {
class api_server {};   // stand-in so the unique_ptr member has a complete type
}
#endif

namespace {
const QString kKey = QStringLiteral("api_server");
}

ServerController::ServerController(EngineBridge* bridge, SettingsStore* settings, QObject* parent)
    : QObject(parent), mBridge(bridge), mStore(settings) {
    const QJsonObject o = mStore->value(kKey).toObject();
    mSettings.enabled = o.value(QLatin1String("enabled")).toBool(false);
    mSettings.host = o.value(QLatin1String("host")).toString(mSettings.host);
    mSettings.port = o.value(QLatin1String("port")).toInt(mSettings.port);
    mSettings.apiKey = o.value(QLatin1String("api_key")).toString();
    if (!isAvailable()) mState = State::NotBuilt;

    // The server holds a reference to the engine: it must be gone before the engine is.
    connect(mBridge, &EngineBridge::aboutToUnload, this, [this] { stop(); });
    connect(mBridge, &EngineBridge::unloaded, this, [this] { apply(); });
    connect(mBridge, &EngineBridge::loaded, this, [this] { apply(); });
    apply();
}

ServerController::~ServerController() { shutdown(); }

bool ServerController::isAvailable() {
#if defined(RL_HAVE_SERVE)
    return true;
#else
    return false;
#endif
}

QString ServerController::notBuiltMessage() {
    return tr("server not built (install libcpp-httplib-dev and rebuild)");
}

void ServerController::setSettings(const ApiServerSettings& s) {
    if (s == mSettings && mState != State::Failed) return;
    const bool addressChanged = s.host != mSettings.host || s.port != mSettings.port || s.apiKey != mSettings.apiKey;
    mSettings = s;
    save();
    if (addressChanged) stop();   // restart on the new address or key
    apply();
}

void ServerController::setEnabled(bool on) {
    ApiServerSettings s = mSettings;
    s.enabled = on;
    setSettings(s);
}

void ServerController::save() {
    mStore->setValue(kKey, QJsonObject{{"enabled", mSettings.enabled},
                                       {"host", mSettings.host},
                                       {"port", mSettings.port},
                                       {"api_key", mSettings.apiKey}});
}

QString ServerController::url() const {
    if (mPort < 0) return {};
    const QString host = mSettings.host.contains(QLatin1Char(':')) ? QLatin1Char('[') + mSettings.host + QLatin1Char(']')
                                                                  : mSettings.host;
    return QStringLiteral("http://%1:%2").arg(host).arg(mPort);
}

QString ServerController::statusText() const {
    switch (mState) {
    case State::NotBuilt: return notBuiltMessage();
    case State::Off: return tr("Off.");
    case State::WaitingForModel: return tr("Starts when a model is loaded.");
    case State::Failed: return tr("Not running: %1").arg(mError);
    case State::Running:
        return tr("Serving %1 at %2/v1%3").arg(mModelId, url(),
                                                 mSettings.apiKey.isEmpty() ? QString() : tr(" (API key required)"));
    }
    return {};
}

void ServerController::setState(State s) {
    mState = s;
    emit stateChanged();
}

void ServerController::apply() {
    if (!isAvailable()) return setState(State::NotBuilt);
    if (!mSettings.enabled) {
        stop();
        return setState(State::Off);
    }
    if (mServer) return;   // running already
    if (!mBridge->isLoaded()) return setState(State::WaitingForModel);
    start();
}

void ServerController::start() {
#if defined(RL_HAVE_SERVE)
    rl::engine* eng = mBridge->engine();
    rl::serve_options o;
    o.host = mSettings.host.trimmed().toStdString();
    o.port = mSettings.port;
    o.api_key = mSettings.apiKey.toStdString();
    const QString path = mBridge->model().path;
    mModelId = QString::fromStdString(rl::api_server::model_id_for(path.toStdString()));
    std::string error;
    int port = -1;
    std::unique_ptr<rl::api_server> server;
    if (o.host.empty()) error = "the host is empty (give 127.0.0.1, or 0.0.0.0 for every interface)";
    else if (o.port < 0 || o.port > 65535) error = "the port must be from 0 to 65535";
    else {
        server = std::make_unique<rl::api_server>(*eng, mModelId.toStdString(), o);
        port = server->bind(error);
    }
    if (port < 0) {
        server.reset();
        mError = QString::fromStdString(error);
        // Off until asked again: a checked box over a server that is not there would mislead.
        mSettings.enabled = false;
        save();
        setState(State::Failed);
        emit failed(tr("The API server could not start: %1").arg(mError));
        return;
    }
    mServer = std::move(server);
    mPort = port;
    mError.clear();
    mListenDone = false;
    mThread = std::thread([this, srv = mServer.get()] {
        srv->run();
        mListenDone = true;
    });
    setState(State::Running);
#endif
}

void ServerController::stop() {
#if defined(RL_HAVE_SERVE)
    if (!mServer) return;
    // httplib's stop() does nothing until the listen loop has begun: repeat it until the loop
    // ends, so a stop right after start cannot leave the thread listening forever.
    mServer->stop();
    while (!mListenDone) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        mServer->stop();
    }
    mThread.join();
    mServer.reset();   // joins the metrics collector; the socket is closed by now
    mPort = -1;
    if (mState == State::Running) setState(mSettings.enabled ? State::WaitingForModel : State::Off);
#endif
}

void ServerController::shutdown() { stop(); }
