// SessionFile: a whole workbench session as one JSON document, for review later: the model
// (path, backend), every serving setting, the load-generator scenario, all transcripts, and the
// metrics history as CSV text (MetricsHistory::toCsv, 100 ms bins). Qt-Core only.
// Exercise: tests/test_workbench_window.cpp (sessionRoundTrip).
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QJsonObject>

class ConversationStore;

struct Session {
    QString modelPath;
    QString backend;
    QString weights = QStringLiteral("auto");
    rl::serving_config serving;
    QString servingError;        // fromJson: why the file's serving settings were refused ("" = read)
    rl::scenario scenario;
    QJsonObject conversations;   // ConversationStore::toJson()
    QString metricsCsv;          // empty when there was no history
    QString savedAt;             // ISO 8601
};

namespace SessionFile {

QJsonObject toJson(const Session& s);
Session fromJson(const QJsonObject& o);
/// Atomic write (QSaveFile).
bool save(const QString& path, const Session& s, QString* error = nullptr);
/// Reads a session; false with *error if the file is missing or not a session. Never renames it.
bool open(const QString& path, Session* out, QString* error = nullptr);

} // namespace SessionFile
