// ServingController: the logic behind the serving panel. change() validates a whole
// serving_config (rl::validate, then the engine's own apply()), applies it live at the next step
// boundary, and keeps the previous good config in force when it is refused (refused() names the
// field, from validate()'s config_error). Pool-shape changes (block_size, kv_blocks) cannot apply
// live: the rest applies, the shape waits in pendingPool() until restartPool() reloads the engine
// with it. Named presets
// load and save through the SettingsStore; the config in force is saved there too.
// Qt-Core only. Exercise: tests/test_workbench_window.cpp (servingControlsApply, invalidRefused).
#pragma once
#include "serving/serving_config.h"

#include <QObject>
#include <QString>

class EngineBridge;
class SettingsStore;

class ServingController : public QObject {
    Q_OBJECT
public:
    enum class Result { Applied, Refused, NeedsRestart };

    ServingController(EngineBridge* bridge, SettingsStore* settings, QObject* parent = nullptr);

    /// The config in force as the person chose it (kv_blocks 0 = automatic).
    rl::serving_config config() const;
    /// The pool the engine really has (kv_blocks resolved); equals config() without a model.
    rl::serving_config engineConfig() const;
    Result change(const rl::serving_config& next, QString* reason = nullptr);

    bool restartPending() const { return mRestartPending; }
    const rl::serving_config& pendingPool() const { return mPending; }
    /// Reloads the model with the pending pool shape. False if no model or a load is running.
    bool restartPool();
    void discardPoolChange();

    /// Applies a saved preset; one that cannot be read is refused naming its knob.
    void loadPreset(const QString& name);
    void savePreset(const QString& name);

signals:
    /// After any accepted change, a preset load, a restart or a new model.
    void configChanged(const rl::serving_config& cfg);
    /// field: the knob the refusal is about (rl::config_error::field), "" when none.
    void refused(const QString& field, const QString& reason);
    void poolRestartNeeded(bool needed);

private:
    void setPending(bool pending, const rl::serving_config& cfg = {});

    EngineBridge* mBridge;
    SettingsStore* mSettings;
    bool mRestartPending = false;
    rl::serving_config mPending;
};
