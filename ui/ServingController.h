// ServingController: the one owner of the serving config on the UI side. It holds the config in
// force as the person chose it (kv_blocks 0 stays "auto": only the engine resolves it) and the
// pending pool shape that waits for a restart. The panel, the settings file, presets, sessions,
// the export and every model load ask it or are told by it; the engine keeps its own copy of
// what is in force because it runs it. change() validates (rl::validate: the refusal names its
// field), applies live what can apply at the next step boundary and keeps the previous config
// when refused. Pool-shape knobs (the table's restarts_pool rows) cannot apply to a loaded
// model: the rest applies, the shape waits in wanted() until restartPool() reloads with it.
// Qt-Core only. Exercise: tests/test_workbench_window.cpp (servingControlsApply, invalidValueRefused,
// poolChangeNeedsRestart, outOfRangeTypedIsRefusedUnderItsField).
#pragma once
#include "serving/serving_config.h"

#include <QObject>
#include <QString>

#include <optional>

class EngineBridge;
class SettingsStore;

class ServingController : public QObject {
    Q_OBJECT
public:
    enum class Result { Applied, Refused, NeedsRestart };

    /// Starts from the config saved in the settings (already validated when they were read).
    ServingController(EngineBridge* bridge, SettingsStore* settings, QObject* parent = nullptr);

    /// The config in force as chosen (kv_blocks 0 = auto); with no model, what the next load uses.
    const rl::serving_config& config() const { return mChosen; }
    /// What the person wants: the pending pool shape while one waits for a restart, else
    /// config(). The panel shows it, presets save it, and a (re)load uses it.
    const rl::serving_config& wanted() const { return mPending ? *mPending : mChosen; }
    /// wanted() with what the loaded engine resolved in place of a special zero (the KV pool it
    /// sized for kv_blocks auto, from engine_info), for showing; equals wanted() otherwise.
    rl::serving_config resolved() const;
    Result change(const rl::serving_config& next, QString* reason = nullptr);

    bool restartPending() const { return mPending.has_value(); }
    /// Reloads the model with wanted(). False if no model or a load is running.
    bool restartPool();
    void discardPoolChange();

    /// Applies a saved preset; one that cannot be read is refused naming its knob.
    void loadPreset(const QString& name);
    void savePreset(const QString& name);

signals:
    /// After any accepted change, a preset load, a restart or a new model: the config in force.
    void configChanged(const rl::serving_config& cfg);
    /// field: the knob the refusal is about (rl::config_error::field), "" when none.
    void refused(const QString& field, const QString& reason);
    void poolRestartNeeded(bool needed);
    /// After an accepted change: the knobs it changed, "max_num_seqs 16 → 32, chunked_prefill
    /// true → false" (the timeline marks it); pool-shape knobs that wait for a restart included.
    void knobsChanged(const QString& summary);

private:
    void setPending(std::optional<rl::serving_config> pending);
    Result refuse(const QString& field, const QString& why, QString* reason);

    EngineBridge* mBridge;
    SettingsStore* mSettings;
    rl::serving_config mChosen;
    std::optional<rl::serving_config> mPending;
};
