// ServingController: live serving changes, refusals, pool restarts, presets (see ServingController.h).
#include "ServingController.h"

#include "EngineBridge.h"
#include "SettingsStore.h"


ServingController::ServingController(EngineBridge* bridge, SettingsStore* settings, QObject* parent)
    : QObject(parent), mBridge(bridge), mSettings(settings) {
    connect(mBridge, &EngineBridge::loaded, this, [this] {
        setPending(false);
        mSettings->setServing(config());
        emit configChanged(config());
    });
}

rl::serving_config ServingController::config() const {
    rl::serving_config c = mBridge->servingConfig();
    const rl::serving_config& chosen = mBridge->settings().serving;
    c.kv_blocks = chosen.kv_blocks;
    c.block_size = mBridge->isLoaded() ? c.block_size : chosen.block_size;
    return c;
}

rl::serving_config ServingController::engineConfig() const { return mBridge->servingConfig(); }

ServingController::Result ServingController::change(const rl::serving_config& next, QString* reason) {
    auto refuse = [&](const QString& field, const QString& why) {
        if (reason) *reason = why;
        emit refused(field, why);
        return Result::Refused;
    };
    if (const rl::config_error err = rl::validate(next))
        return refuse(QString::fromStdString(err.field), QString::fromStdString(err.message));

    const rl::serving_config current = config();
    const bool poolChange = mBridge->isLoaded() &&
                            (next.block_size != current.block_size || next.kv_blocks != current.kv_blocks);
    rl::serving_config live = next;
    if (poolChange) {   // apply everything else now; the shape waits for a restart
        live.block_size = current.block_size;
        live.kv_blocks = current.kv_blocks;
    }
    // The engine validates the same way, so this refusal is not expected; it names no field.
    if (const QString why = mBridge->applyServing(live); !why.isEmpty()) return refuse(QString(), why);
    mSettings->setServing(config());
    if (reason) reason->clear();
    if (poolChange) setPending(true, next);
    else if (mRestartPending) setPending(false);
    emit configChanged(config());
    return poolChange ? Result::NeedsRestart : Result::Applied;
}

bool ServingController::restartPool() {
    if (!mBridge->isLoaded() || mBridge->isLoading()) return false;
    EngineSettings s = mBridge->settings();
    s.serving = mRestartPending ? mPending : config();
    return mBridge->loadModel(s);
}

void ServingController::discardPoolChange() {
    setPending(false);
    emit configChanged(config());
}

void ServingController::setPending(bool pending, const rl::serving_config& cfg) {
    mPending = cfg;
    if (pending == mRestartPending && !pending) return;
    mRestartPending = pending;
    emit poolRestartNeeded(pending);
}

void ServingController::loadPreset(const QString& name) {
    if (!mSettings->hasPreset(name)) return;
    rl::serving_config c;
    if (const rl::config_error err = mSettings->preset(name, &c)) {
        emit refused(QString::fromStdString(err.field),
                     tr("preset '%1': %2").arg(name, QString::fromStdString(err.message)));
        return;
    }
    change(c);
}

void ServingController::savePreset(const QString& name) {
    mSettings->savePreset(name, mRestartPending ? mPending : config());
}
