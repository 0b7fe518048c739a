// JsonFile: atomic JSON files under the data directory (see JsonFile.h).
#include "JsonFile.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonParseError>
#include <QSaveFile>
#include <QStandardPaths>

namespace JsonFile {

QString dataDir() {
    QString dir = qEnvironmentVariable("RIDGELINE_DATA_DIR");
    if (dir.isEmpty()) dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (dir.isEmpty()) dir = QDir::homePath() + QStringLiteral("/.local/share/ridgeline");
    QDir().mkpath(dir);
    return dir;
}

QString path(const QString& name) { return dataDir() + QLatin1Char('/') + name; }

ReadResult read(const QString& file, QJsonObject* out, QString* error) {
    *out = QJsonObject();
    QFile f(file);
    if (!f.exists()) return ReadResult::Missing;
    QString why;
    if (!f.open(QIODevice::ReadOnly)) {
        why = f.errorString();
    } else {
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
        f.close();
        if (pe.error != QJsonParseError::NoError)
            why = QStringLiteral("%1 at offset %2").arg(pe.errorString()).arg(pe.offset);
        else if (!doc.isObject())
            why = QStringLiteral("not a JSON object");
        else {
            *out = doc.object();
            return ReadResult::Ok;
        }
    }
    // Set the bad file aside so the next save cannot destroy what might still be recovered. An
    // earlier .bad is kept too (the second corruption gets .bad.2, ...): nothing is overwritten.
    QString bad = file + QStringLiteral(".bad");
    for (int n = 2; QFile::exists(bad) && n < 1000; ++n) bad = file + QStringLiteral(".bad.%1").arg(n);
    const bool moved = !QFile::exists(bad) && QFile::rename(file, bad);
    if (error) {
        *error = moved ? QObject::tr("%1 is corrupt (%2); it was set aside as %3 and defaults are used.")
                             .arg(QFileInfo(file).fileName(), why, QFileInfo(bad).fileName())
                       : QObject::tr("%1 is corrupt (%2) and could not be set aside; defaults are used.")
                             .arg(QFileInfo(file).fileName(), why);
    }
    return ReadResult::Corrupt;
}

bool write(const QString& file, const QJsonObject& obj, QString* error) {
    QDir().mkpath(QFileInfo(file).absolutePath());
    QSaveFile f(file);
    if (!f.open(QIODevice::WriteOnly)) {
        if (error) *error = f.errorString();
        return false;
    }
    f.write(QJsonDocument(obj).toJson(QJsonDocument::Indented));
    f.flush();
    if (!f.commit()) {   // commit() fsyncs the temporary file, then renames it over the target
        if (error) *error = f.errorString();
        return false;
    }
    return true;
}

} // namespace JsonFile
