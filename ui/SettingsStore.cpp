// SettingsStore: settings.json and presets.json (see SettingsStore.h).
#include "SettingsStore.h"

#include "EngineJson.h"
#include "serving/serving_knobs.h"
#include "JsonFile.h"

#include <QJsonArray>

SettingsStore::SettingsStore(QObject* parent, const QString& dir)
    : QObject(parent), mDir(dir.isEmpty() ? JsonFile::dataDir() : dir) {
    mSaveTimer.setSingleShot(true);
    mSaveTimer.setInterval(300);
    connect(&mSaveTimer, &QTimer::timeout, this, [this] {
        const QString err = saveNow();
        if (!err.isEmpty()) emit saveFailed(err);
    });
}

SettingsStore::~SettingsStore() {
    if (mDirty) saveNow();
}

QString SettingsStore::load() {
    QStringList errors;
    QString e;
    if (JsonFile::read(settingsFile(), &mSettings, &e) == JsonFile::ReadResult::Corrupt) errors << e;
    if (JsonFile::read(presetsFile(), &mPresets, &e) == JsonFile::ReadResult::Corrupt) errors << e;
    // A file that parses can still hold impossible serving values (hand-edited, an older build):
    // each refused knob falls back to its default with the reason, the others are kept, rather
    // than fail at the next load. Only a block that is not an object, or whose knobs disagree
    // even at their defaults, is dropped whole.
    if (mSettings.contains(QLatin1String("serving"))) {
        const QJsonValue saved = mSettings.value(QLatin1String("serving"));
        QJsonObject kept = saved.toObject();
        QStringList refused;
        rl::serving_config c;
        rl::config_error err = saved.isObject() ? rl::config_error{} : rl::config_error{"serving", "not an object"};
        for (size_t tries = 0; saved.isObject() && tries <= rl::serving_knobs().size(); ++tries) {
            err = EngineJson::servingFromJson(kept, &c);
            const QString key = QString::fromStdString(err.field);
            if (!err || !kept.contains(key)) break;
            refused << QString::fromStdString(err.message);
            kept.remove(key);
        }
        if (err) {
            errors << tr("settings.json: the saved serving settings were refused (%1); defaults are used.")
                          .arg(QString::fromStdString(err.message));
            mSettings.remove(QStringLiteral("serving"));
        } else if (!refused.isEmpty()) {
            errors << tr("settings.json: %1; %2 the default, the other serving settings are kept.")
                          .arg(refused.join(QStringLiteral("; ")),
                               refused.size() == 1 ? tr("that knob takes") : tr("those knobs take"));
            mSettings.insert(QStringLiteral("serving"), kept);
        }
    }
    mDirty = false;
    emit presetsChanged();
    return errors.join(QLatin1Char('\n'));
}

QString SettingsStore::saveNow() {
    mSaveTimer.stop();
    QString error;
    if (!JsonFile::write(settingsFile(), mSettings, &error)) return error;
    mDirty = false;
    return {};
}

void SettingsStore::setValue(const QString& key, const QJsonValue& v) {
    if (mSettings.value(key) == v) return;
    mSettings.insert(key, v);
    scheduleSave();
}

void SettingsStore::scheduleSave() {
    mDirty = true;
    if (!mSaveTimer.isActive()) mSaveTimer.start();
}

ModelSource SettingsStore::modelSource(const ModelSource& defaults) const {
    ModelSource s = defaults;
    const QJsonObject m = value(QStringLiteral("model")).toObject();
    s.modelPath = m.value(QLatin1String("path")).toString(s.modelPath);
    s.backend = m.value(QLatin1String("backend")).toString(s.backend);
    s.weights = m.value(QLatin1String("weights")).toString(s.weights);
    return s;
}

void SettingsStore::setModelSource(const ModelSource& s) {
    setValue(QStringLiteral("model"), QJsonObject{{"path", s.modelPath}, {"backend", s.backend}, {"weights", s.weights}});
}

rl::serving_config SettingsStore::serving() const {
    rl::serving_config c;
    EngineJson::servingFromJson(value(QStringLiteral("serving")).toObject(), &c);   // load() refused a bad one
    return c;
}

void SettingsStore::setServing(const rl::serving_config& c) {
    setValue(QStringLiteral("serving"), EngineJson::toJson(c));
}

rl::scenario SettingsStore::scenario() const {
    return EngineJson::scenarioFromJson(value(QStringLiteral("scenario")).toObject());
}

void SettingsStore::setScenario(const rl::scenario& s) {
    setValue(QStringLiteral("scenario"), EngineJson::toJson(s));
}

GenerationSettings SettingsStore::generation(const GenerationSettings& defaults) const {
    return EngineJson::generationFromJson(value(QStringLiteral("generation")).toObject(), defaults);
}

void SettingsStore::setGeneration(const GenerationSettings& g) {
    setValue(QStringLiteral("generation"), EngineJson::toJson(g));
}

QStringList SettingsStore::recentModels() const {
    QStringList out;
    for (const QJsonValue& v : value(QStringLiteral("recent_models")).toArray()) out << v.toString();
    return out;
}

void SettingsStore::addRecentModel(const QString& path) {
    if (path.isEmpty()) return;
    QStringList list = recentModels();
    list.removeAll(path);
    list.prepend(path);
    while (list.size() > 8) list.removeLast();
    setValue(QStringLiteral("recent_models"), QJsonArray::fromStringList(list));
}

QByteArray SettingsStore::windowBytes(const char* key) const {
    const QString b64 = value(QStringLiteral("window")).toObject().value(QLatin1String(key)).toString();
    return QByteArray::fromBase64(b64.toLatin1());
}

void SettingsStore::setWindowBytes(const char* key, const QByteArray& bytes) {
    QJsonObject w = value(QStringLiteral("window")).toObject();
    w.insert(QLatin1String(key), QString::fromLatin1(bytes.toBase64()));
    setValue(QStringLiteral("window"), w);
}

QStringList SettingsStore::presetNames() const {
    QStringList names = mPresets.keys();
    names.sort(Qt::CaseInsensitive);
    return names;
}

rl::config_error SettingsStore::preset(const QString& name, rl::serving_config* out) const {
    rl::serving_config c;   // a preset starts from the defaults, not from what is in force
    if (rl::config_error err = EngineJson::servingFromJson(mPresets.value(name).toObject(), &c)) return err;
    *out = c;
    return {};
}

void SettingsStore::savePreset(const QString& name, const rl::serving_config& c) {
    if (name.trimmed().isEmpty()) return;
    mPresets.insert(name.trimmed(), EngineJson::toJson(c));
    QString err;
    if (!JsonFile::write(presetsFile(), mPresets, &err)) emit saveFailed(err);
    emit presetsChanged();
}

void SettingsStore::removePreset(const QString& name) {
    if (!mPresets.contains(name)) return;
    mPresets.remove(name);
    QString err;
    if (!JsonFile::write(presetsFile(), mPresets, &err)) emit saveFailed(err);
    emit presetsChanged();
}
