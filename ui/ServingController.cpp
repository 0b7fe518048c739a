// ServingController: the serving config's owner: live changes, refusals, pool restarts, presets
// (see ServingController.h).
#include "ServingController.h"

#include "EngineBridge.h"
#include "SettingsStore.h"
#include "runtime/engine.h"
#include "serving/serving_knobs.h"

#include <QStringList>

ServingController::ServingController(EngineBridge* bridge, SettingsStore* settings, QObject* parent)
    : QObject(parent), mBridge(bridge), mSettings(settings), mChosen(settings->serving()) {
    // A load brings the config it was asked for into force (a restart's pending shape, or what a
    // caller passed to loadModel); from then on it is the one chosen.
    connect(mBridge, &EngineBridge::loaded, this, [this] {
        mChosen = mBridge->engine()->current_config();
        setPending(std::nullopt);
        mSettings->setServing(mChosen);
        emit configChanged(mChosen);
    });
}

rl::serving_config ServingController::resolved() const {
    rl::serving_config c = wanted();
    // Only the pool in force has been resolved; a pending shape is not sized until it loads.
    if (mBridge->isLoaded() && !mPending) {
        c.kv_blocks = mBridge->model().kvBlocks;
        c.max_model_len = mBridge->model().contextLength;
    }
    // The step budget's auto applies live, so it resolves from the loaded backend even while a
    // pool change waits.
    if (mBridge->isLoaded()) c = rl::resolve_step_budget(c, mBridge->model().autoBatchedTokens);
    return c;
}

ServingController::Result ServingController::refuse(const QString& field, const QString& why, QString* reason) {
    if (reason) *reason = why;
    emit refused(field, why);
    return Result::Refused;
}

ServingController::Result ServingController::change(const rl::serving_config& next, QString* reason) {
    if (const rl::config_error err = rl::validate(next))
        return refuse(QString::fromStdString(err.field), QString::fromStdString(err.message), reason);
    const rl::serving_config before = wanted();
    const bool loaded = mBridge->isLoaded();
    const bool poolChange = loaded && rl::needs_pool_restart(mChosen, next);
    // Everything but the pool shape applies now; the shape waits for a restart.
    const rl::serving_config live = poolChange ? rl::with_pool_of(next, mChosen) : next;
    if (loaded) {
        // The engine validates the same way, so this refusal is not expected; it names no field.
        if (const QString why = mBridge->applyServing(live); !why.isEmpty()) return refuse(QString(), why, reason);
    }
    mChosen = live;
    mSettings->setServing(mChosen);
    if (reason) reason->clear();
    setPending(poolChange ? std::optional(next) : std::nullopt);
    emit configChanged(mChosen);
    QStringList changed;
    for (const rl::knob_info& k : rl::serving_knobs())
        if (k.get(before) != k.get(next))
            changed << QStringLiteral("%1 %2 → %3")
                           .arg(QLatin1String(k.name.data(), int(k.name.size())),
                                QString::fromStdString(rl::knob_text(k, before)), QString::fromStdString(rl::knob_text(k, next)));
    if (!changed.isEmpty()) emit knobsChanged(changed.join(QStringLiteral(", ")));
    return poolChange ? Result::NeedsRestart : Result::Applied;
}

bool ServingController::restartPool() {
    if (!mBridge->isLoaded() || mBridge->isLoading()) return false;
    return mBridge->loadModel(EngineSettings{mBridge->source(), wanted()});
}

void ServingController::discardPoolChange() {
    setPending(std::nullopt);
    emit configChanged(mChosen);
}

void ServingController::setPending(std::optional<rl::serving_config> pending) {
    const bool was = mPending.has_value();
    mPending = std::move(pending);
    if (was || mPending) emit poolRestartNeeded(mPending.has_value());
}

void ServingController::loadPreset(const QString& name) {
    if (!mSettings->hasPreset(name)) return;
    rl::serving_config c;
    if (const rl::config_error err = mSettings->preset(name, &c)) {
        refuse(QString::fromStdString(err.field),
               tr("preset '%1': %2").arg(name, QString::fromStdString(err.message)), nullptr);
        return;
    }
    change(c);
}

void ServingController::savePreset(const QString& name) { mSettings->savePreset(name, wanted()); }
