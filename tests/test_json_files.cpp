// test_json_files: nothing the person made is lost. JsonFile::write (conversations, settings,
// presets, sessions) is atomic: a child process writing a large replacement through it is
// SIGKILLed while its temporary file is open and part-written, and the old file is still there,
// whole and parseable. Corrupt settings, presets and conversations files are reported (one line
// each), set aside as <name>.bad without overwriting an earlier .bad, and the stores carry on
// with defaults; impossible saved serving values are refused the same way.
// Qt Core only (no display). Run: ./build/tests/test_json_files   (label unit)
#include "rl_test.h"

#include "ConversationModel.h"
#include "ConversationStore.h"
#include "JsonFile.h"
#include "SettingsStore.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>

#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeRaw(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(bytes);
}

// The size of a file `pid` has open under `dir` other than `target` (its temporary), or -1.
qint64 tempFileSize(pid_t pid, const QString& dir, const QString& target, QString* name) {
    const QString fdDir = QStringLiteral("/proc/%1/fd").arg(pid);
    for (const QString& fd : QDir(fdDir).entryList(QDir::Files | QDir::System)) {
        const QString link = QFile::symLinkTarget(fdDir + QLatin1Char('/') + fd);
        if (!link.startsWith(dir + QLatin1Char('/')) || link == target) continue;
        struct stat st {};
        if (::stat(QFile::encodeName(fdDir + QLatin1Char('/') + fd).constData(), &st) != 0) continue;
        *name = link;
        return qint64(st.st_size);
    }
    return -1;
}

} // namespace

class TestJsonFiles : public QObject {
    Q_OBJECT
private slots:
    void sigkillMidWriteLeavesTheOldFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("conversations.json"));
        const QJsonObject old{{"version", 1}, {"marker", "the old file"}};
        QVERIFY(JsonFile::write(path, old));
        const QByteArray oldBytes = readAll(path);
        // A replacement of about 64 MB, built before the fork so the child only writes.
        QJsonArray big;
        const QString chunk(16384, QLatin1Char('x'));
        for (int i = 0; i < 4096; ++i) big.append(chunk);
        const QJsonObject replacement{{"version", 1}, {"marker", "the new file"}, {"conversations", big}};

        bool killedMidWrite = false;
        QString tempSeen;
        for (int attempt = 0; attempt < 20 && !killedMidWrite; ++attempt) {
            const pid_t pid = ::fork();
            QVERIFY(pid >= 0);
            if (pid == 0) {
                JsonFile::write(path, replacement);
                ::_exit(0);
            }
            bool finished = false;
            qint64 size = -1;
            while (!finished) {   // the child ends on its own within seconds if we never see it
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    finished = true;
                    break;
                }
                size = tempFileSize(pid, dir.path(), path, &tempSeen);
                if (size > 0) break;   // the temporary holds part of the new file: kill now
            }
            if (!finished) {
                ::kill(pid, SIGKILL);
                int status = 0;
                ::waitpid(pid, &status, 0);
                QVERIFY(WIFSIGNALED(status));
            }
            // Whatever happened, the file parses: it is the old one or the whole new one.
            QJsonParseError pe;
            const QJsonDocument doc = QJsonDocument::fromJson(readAll(path), &pe);
            QVERIFY2(pe.error == QJsonParseError::NoError && doc.isObject(), qPrintable(pe.errorString()));
            const QString marker = doc.object().value(QLatin1String("marker")).toString();
            QVERIFY(marker == QLatin1String("the old file") || marker == QLatin1String("the new file"));
            if (!finished && marker == QLatin1String("the old file")) {
                QCOMPARE(readAll(path), oldBytes);   // byte for byte
                killedMidWrite = true;
            } else {
                QVERIFY(JsonFile::write(path, old));   // the write won the race: try again
            }
        }
        QVERIFY2(killedMidWrite, "no attempt caught the writer mid-write");
        std::printf("NOTE   : killed while writing %s\n", qPrintable(tempSeen));
        // Nothing half-written was left where the app would read it.
        QVERIFY(!QFile::exists(path + QStringLiteral(".bad")));
    }

    void corruptSettingsAndPresetsSetAside() {
        QTemporaryDir dir;
        SettingsStore store(nullptr, dir.path());
        writeRaw(store.settingsFile(), "{\"serving\": {\"max_num_seqs\": 3,");   // cut mid-write
        writeRaw(store.presetsFile(), "not json at all");
        const QString msg = store.load();
        const QStringList lines = msg.split(QLatin1Char('\n'));
        QCOMPARE(lines.size(), 2);   // one line per file
        QVERIFY2(lines[0].contains(QStringLiteral("settings.json is corrupt")) &&
                     lines[0].contains(QStringLiteral("settings.json.bad")), qPrintable(msg));
        QVERIFY2(lines[1].contains(QStringLiteral("presets.json.bad")), qPrintable(msg));
        QCOMPARE(readAll(store.settingsFile() + QStringLiteral(".bad")), QByteArray("{\"serving\": {\"max_num_seqs\": 3,"));
        QVERIFY(!QFile::exists(store.settingsFile()));
        QCOMPARE(store.serving().max_num_seqs, rl::serving_config{}.max_num_seqs);   // defaults
        QVERIFY(store.presetNames().isEmpty());
        // The app goes on: a save writes a fresh file next to the .bad one.
        store.setServing(rl::serving_config{});
        QVERIFY(store.saveNow().isEmpty());
        QVERIFY(QFile::exists(store.settingsFile()));

        // A second corruption keeps the first .bad and sets the new one aside as .bad.2.
        writeRaw(store.settingsFile(), "[]");
        SettingsStore again(nullptr, dir.path());
        const QString msg2 = again.load();
        QVERIFY2(msg2.contains(QStringLiteral("settings.json.bad.2")), qPrintable(msg2));
        QCOMPARE(readAll(store.settingsFile() + QStringLiteral(".bad")), QByteArray("{\"serving\": {\"max_num_seqs\": 3,"));
        QCOMPARE(readAll(store.settingsFile() + QStringLiteral(".bad.2")), QByteArray("[]"));
    }

    void impossibleSavedServingRefused() {
        QTemporaryDir dir;
        SettingsStore store(nullptr, dir.path());
        writeRaw(store.settingsFile(), R"({"serving": {"max_num_seqs": 0, "block_size": 16}, "recent_models": ["a"]})");
        const QString msg = store.load();
        QVERIFY2(msg.contains(QStringLiteral("max_num_seqs")) && !msg.contains(QLatin1Char('\n')), qPrintable(msg));
        QCOMPARE(store.serving().max_num_seqs, rl::serving_config{}.max_num_seqs);
        QCOMPARE(store.recentModels(), QStringList{QStringLiteral("a")});   // the rest is kept
        QVERIFY(!QFile::exists(store.settingsFile() + QStringLiteral(".bad")));
    }

    void corruptConversationsSetAside() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("conversations.json"));
        const QByteArray junk = "{\"conversations\": [{\"id\": 1, \"title\": \"Trip\", \"messages\": [";
        writeRaw(path, junk);
        ConversationStore store(nullptr, path);
        const QString msg = store.load();
        QVERIFY2(msg.contains(QStringLiteral("conversations.json.bad")) && !msg.contains(QLatin1Char('\n')), qPrintable(msg));
        QCOMPARE(readAll(path + QStringLiteral(".bad")), junk);
        QCOMPARE(store.count(), 1);   // a fresh, empty conversation to carry on with
        QCOMPARE(store.at(0).model->count(), 0);
        store.at(0).model->appendUser(QStringLiteral("still works"));
        QVERIFY(store.saveNow().isEmpty());
        ConversationStore reread(nullptr, path);
        QVERIFY(reread.load().isEmpty());
        QCOMPARE(reread.at(0).model->message(0).text, QStringLiteral("still works"));
        QCOMPARE(readAll(path + QStringLiteral(".bad")), junk);   // never overwritten
    }
};

RL_TEST_MAIN(TestJsonFiles, sigkillMidWriteLeavesTheOldFile, corruptSettingsAndPresetsSetAside,
             impossibleSavedServingRefused, corruptConversationsSetAside)
#include "test_json_files.moc"
