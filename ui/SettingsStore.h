// SettingsStore: the window's persisted settings (settings.json) and the named serving presets
// (presets.json), both under JsonFile::dataDir() and both written atomically a moment after a
// change and on destruction. A corrupt file is set aside as "<name>.bad" by JsonFile and the
// reason is returned from load() for the banner; the app then runs on defaults. Saved serving
// values of the wrong type, out of range or impossible together (EngineJson::servingFromJson,
// which names the knob) are refused the same way.
// Keys: "model" {path, backend}, "recent_models" [..], "serving" {serving_config},
// "scenario" {scenario}, "generation" {..}, "window" {geometry, state} (base64), "remote" {url,
// interval_ms} (the last server watched in remote mode), "peaks" {device key: measured peaks}
// (PeakCache).
// Qt-Core only. Exercise: tests/test_workbench_window.cpp (settingsPersist, corruptSettingsSetAside),
// tests/test_json_files.cpp.
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QJsonObject>
#include <QObject>
#include <QStringList>
#include <QTimer>

class SettingsStore : public QObject {
    Q_OBJECT
public:
    /// dir: "" = JsonFile::dataDir()
    explicit SettingsStore(QObject* parent = nullptr, const QString& dir = QString());
    ~SettingsStore() override;

    /// Reads both files; returns "" or the reasons (one per line) files were set aside.
    QString load();
    QString saveNow();
    QString settingsFile() const { return mDir + QStringLiteral("/settings.json"); }
    QString presetsFile() const { return mDir + QStringLiteral("/presets.json"); }

    QJsonValue value(const QString& key) const { return mSettings.value(key); }
    void setValue(const QString& key, const QJsonValue& v);

    /// The model chosen last ("model" {path, backend}) over defaults.
    ModelSource modelSource(const ModelSource& defaults) const;
    void setModelSource(const ModelSource& s);
    /// The serving config saved by its owner, the ServingController (defaults when none was
    /// saved, or when load() refused what was).
    rl::serving_config serving() const;
    void setServing(const rl::serving_config& c);
    rl::scenario scenario() const;
    void setScenario(const rl::scenario& s);
    GenerationSettings generation(const GenerationSettings& defaults) const;
    void setGeneration(const GenerationSettings& g);

    QStringList recentModels() const;
    /// Moves path to the front of the recent list (at most 8 entries).
    void addRecentModel(const QString& path);

    QByteArray windowBytes(const char* key) const;
    void setWindowBytes(const char* key, const QByteArray& bytes);

    QStringList presetNames() const;
    bool hasPreset(const QString& name) const { return mPresets.contains(name); }
    /// Reads a preset into *out; a missing knob keeps its default. Refuses (naming the knob) a
    /// value of the wrong type or out of range; *out is then left alone.
    rl::config_error preset(const QString& name, rl::serving_config* out) const;
    void savePreset(const QString& name, const rl::serving_config& c);
    void removePreset(const QString& name);

signals:
    void saveFailed(const QString& error);
    void presetsChanged();

private:
    void scheduleSave();

    QString mDir;
    QJsonObject mSettings;
    QJsonObject mPresets;
    bool mDirty = false;
    QTimer mSaveTimer;
};
