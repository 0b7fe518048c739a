// JsonFile: where the workbench keeps its files and how it writes them. Every write is atomic
// (QSaveFile: a temporary file, flushed and fsynced, renamed over the old one), so a crash leaves
// either the old file or the new one (on Linux the temporary is an unnamed O_TMPFILE, so a
// killed writer leaves nothing behind). A file that does not parse is never overwritten: read()
// renames it to "<name>.bad" ("<name>.bad.2", ... when earlier ones exist) and reports why, and
// the caller starts from defaults.
// Qt-Core only. Exercise: tests/test_json_files.cpp (SIGKILL mid-write, corrupt files),
// tests/test_workbench_window.cpp (corruptSettingsSetAside).
#pragma once
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

namespace JsonFile {

/// $RIDGELINE_DATA_DIR when set (tests), else QStandardPaths::AppDataLocation. Created on demand.
QString dataDir();
/// dataDir() + "/" + name
QString path(const QString& name);

enum class ReadResult { Ok, Missing, Corrupt };

/// Reads a JSON object. Missing: *out is empty, no error. Corrupt (unreadable, not JSON, not an
/// object): the file is renamed to "<file>.bad" (or .bad.N) and *error says, in one line, what
/// happened and where it went.
ReadResult read(const QString& file, QJsonObject* out, QString* error = nullptr);
/// Writes atomically; false with *error on failure.
bool write(const QString& file, const QJsonObject& obj, QString* error = nullptr);

} // namespace JsonFile
