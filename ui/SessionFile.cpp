// SessionFile: session JSON save/open (see SessionFile.h).
#include "SessionFile.h"

#include "EngineJson.h"
#include "JsonFile.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>
#include <QJsonParseError>

namespace SessionFile {

QJsonObject toJson(const Session& s) {
    QJsonObject o{{"format", "ridgeline-session"},
                  {"version", 1},
                  {"saved_at", s.savedAt.isEmpty() ? QDateTime::currentDateTime().toString(Qt::ISODate) : s.savedAt},
                  {"model", QJsonObject{{"path", s.modelPath}, {"backend", s.backend}, {"weights", s.weights}}},
                  {"serving", EngineJson::toJson(s.serving)},
                  {"scenario", EngineJson::toJson(s.scenario)},
                  {"conversations", s.conversations}};
    if (!s.metricsCsv.isEmpty()) o.insert(QStringLiteral("metrics_csv"), s.metricsCsv);
    return o;
}

Session fromJson(const QJsonObject& o) {
    Session s;
    const QJsonObject m = o.value(QLatin1String("model")).toObject();
    s.modelPath = m.value(QLatin1String("path")).toString();
    s.backend = m.value(QLatin1String("backend")).toString(QStringLiteral("cpu"));
    s.weights = m.value(QLatin1String("weights")).toString(QStringLiteral("auto"));
    // Refused serving values are reported, not guessed at: the session still opens.
    const QJsonObject serving = o.value(QLatin1String("serving")).toObject();
    if (const rl::config_error err = EngineJson::servingFromJson(serving, &s.serving))
        s.servingError = QString::fromStdString(err.message);
    s.scenario = EngineJson::scenarioFromJson(o.value(QLatin1String("scenario")).toObject());
    s.conversations = o.value(QLatin1String("conversations")).toObject();
    s.metricsCsv = o.value(QLatin1String("metrics_csv")).toString();
    s.savedAt = o.value(QLatin1String("saved_at")).toString();
    return s;
}

bool save(const QString& path, const Session& s, QString* error) {
    return JsonFile::write(path, toJson(s), error);
}

bool open(const QString& path, Session* out, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        if (error) *error = f.errorString();
        return false;
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject() ||
        doc.object().value(QLatin1String("format")).toString() != QLatin1String("ridgeline-session")) {
        if (error)
            *error = pe.error != QJsonParseError::NoError ? pe.errorString()
                                                          : QObject::tr("not a Ridgeline session file");
        return false;
    }
    *out = fromJson(doc.object());
    return true;
}

} // namespace SessionFile
