// test_json_files: nothing the person made is lost. JsonFile::write (conversations, settings,
// presets, sessions) is atomic: a child process writing a large replacement through it is
// SIGKILLed while its temporary file is open and part-written, and the old file is still there,
// whole and parseable. Corrupt settings, presets and conversations files are reported (one line
// each), set aside as <name>.bad without overwriting an earlier .bad, and the stores carry on
// with defaults; impossible saved serving values are refused the same way. The serving config's
// JSON (settings, presets, sessions) covers every row of the knob table, keyed by its name and
// typed by its type; a wrong type or a value out of range is refused naming the knob.
// Qt Core only (no display). Run: ./build/tests/test_json_files   (label unit)
#include "rl_test.h"

#include "ConversationModel.h"
#include "ConversationStore.h"
#include "EngineJson.h"
#include "JsonFile.h"
#include "SessionFile.h"
#include "SettingsStore.h"
#include "serving/serving_knobs.h"

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
        writeRaw(store.settingsFile(), R"({"serving": {"max_num_seqs": 0, "block_size": 32, "max_queue_ms": "250"},
                                           "recent_models": ["a"]})");
        const QString msg = store.load();
        QVERIFY2(msg.contains(QStringLiteral("max_num_seqs")) && msg.contains(QStringLiteral("max_queue_ms")) &&
                     !msg.contains(QLatin1Char('\n')),
                 qPrintable(msg));
        // Each refused knob takes its default; the valid one next to them is kept.
        QCOMPARE(store.serving().max_num_seqs, rl::serving_config{}.max_num_seqs);
        QCOMPARE(store.serving().max_queue_ms, rl::serving_config{}.max_queue_ms);
        QCOMPARE(store.serving().block_size, 32);
        QCOMPARE(store.recentModels(), QStringList{QStringLiteral("a")});   // the rest is kept
        QVERIFY(!QFile::exists(store.settingsFile() + QStringLiteral(".bad")));
        // A serving block that is not an object is dropped whole, with the reason.
        writeRaw(store.settingsFile(), R"({"serving": [1, 2], "recent_models": ["a"]})");
        QVERIFY(store.load().contains(QStringLiteral("defaults are used")));
        QCOMPARE(store.serving().block_size, rl::serving_config{}.block_size);
    }

    void servingJsonCoversEveryKnob() {
        // A config unlike the defaults wherever a knob allows (each at its maximum, booleans
        // flipped, the next choice) goes out with one key per knob and comes back equal.
        rl::serving_config c;
        for (const rl::knob_info& k : rl::serving_knobs()) {
            if (k.type == rl::knob_type::boolean) k.set(c, 1 - k.get(c));
            else if (k.type == rl::knob_type::choice) k.set(c, double((size_t(k.get(c)) + 1) % k.choices.size()));
            else k.set(c, k.max);
        }
        QVERIFY(!rl::validate(c));
        const QJsonObject o = EngineJson::toJson(c);
        QCOMPARE(o.size(), int(rl::serving_knobs().size()));
        int differing = 0;
        for (const rl::knob_info& k : rl::serving_knobs()) {
            const QJsonValue v = o.value(QLatin1String(k.name.data(), qsizetype(k.name.size())));
            switch (k.type) {
            case rl::knob_type::boolean: QVERIFY(v.isBool()); break;
            case rl::knob_type::choice: QCOMPARE(v.toString().toStdString(), rl::knob_text(k, c)); break;
            default: QVERIFY(v.isDouble()); QCOMPARE(v.toDouble(), k.get(c));
            }
            if (k.get(c) != k.get(rl::serving_config{})) ++differing;
        }
        QCOMPARE(differing, int(rl::serving_knobs().size()) - 1);   // preemption has one mode
        rl::serving_config back;
        QVERIFY(!EngineJson::servingFromJson(o, &back));
        for (const rl::knob_info& k : rl::serving_knobs()) QCOMPARE(k.get(back), k.get(c));
        // Through a file too: a preset and a session.
        QTemporaryDir dir;
        SettingsStore store(nullptr, dir.path());
        store.savePreset(QStringLiteral("all"), c);
        SettingsStore again(nullptr, dir.path());
        QVERIFY(again.load().isEmpty());
        rl::serving_config fromPreset;
        QVERIFY(!again.preset(QStringLiteral("all"), &fromPreset));
        for (const rl::knob_info& k : rl::serving_knobs()) QCOMPARE(k.get(fromPreset), k.get(c));
        Session session;
        session.serving = c;
        const Session reread = SessionFile::fromJson(SessionFile::toJson(session));
        QVERIFY(reread.servingError.isEmpty());
        for (const rl::knob_info& k : rl::serving_knobs()) QCOMPARE(k.get(reread.serving), k.get(c));
    }

    void servingJsonRefusesByKnobName() {
        const rl::serving_config d;
        for (const rl::knob_info& k : rl::serving_knobs()) {
            const QString key = QString::fromLatin1(k.name.data(), qsizetype(k.name.size()));
            // The wrong type: a word for a number or a boolean, a number for a choice.
            const QJsonValue wrong = k.type == rl::knob_type::choice ? QJsonValue(3) : QJsonValue(QStringLiteral("x"));
            rl::serving_config out;
            out.max_num_seqs = 7;   // left alone when refused
            rl::config_error e = EngineJson::servingFromJson(QJsonObject{{key, wrong}}, &out);
            QCOMPARE(e.field, std::string(k.name));
            QVERIFY2(e.message.find(std::string(k.name)) != std::string::npos, e.message.c_str());
            QCOMPARE(out.max_num_seqs, 7);
            if (k.type == rl::knob_type::integer || k.type == rl::knob_type::real) {
                e = EngineJson::servingFromJson(QJsonObject{{key, k.max + 1}}, &out);
                QCOMPARE(e.field, std::string(k.name));
                e = EngineJson::servingFromJson(QJsonObject{{key, k.min - 1}}, &out);
                QCOMPARE(e.field, std::string(k.name));
                if (k.type == rl::knob_type::integer) {   // 2.5 is no integer
                    e = EngineJson::servingFromJson(QJsonObject{{key, k.min + 0.5}}, &out);
                    QCOMPARE(e.field, std::string(k.name));
                }
            }
            if (k.type == rl::knob_type::boolean) {   // a number is not a boolean here
                e = EngineJson::servingFromJson(QJsonObject{{key, 1}}, &out);
                QCOMPARE(e.field, std::string(k.name));
            }
            QCOMPARE(out.max_num_seqs, 7);
        }
        // Missing keys keep what was there, unknown keys are ignored, the rules between knobs hold.
        rl::serving_config out = d;
        QVERIFY(!EngineJson::servingFromJson(QJsonObject{{"max_num_seqs", 4}, {"no_such_knob", "x"}}, &out));
        QCOMPARE(out.max_num_seqs, 4);
        QCOMPARE(out.block_size, d.block_size);
        const rl::config_error rule =
            EngineJson::servingFromJson(QJsonObject{{"max_num_seqs", 64}, {"max_num_batched_tokens", 32}}, &out);
        QCOMPARE(rule.field, std::string("max_num_batched_tokens"));
        QCOMPARE(out.max_num_seqs, 4);
    }

    void oldServingFilesStillRead() {
        // settings.json as the build before the knob table wrote it (every field, same keys).
        QTemporaryDir dir;
        SettingsStore store(nullptr, dir.path());
        writeRaw(store.settingsFile(),
                 R"({"serving": {"max_num_seqs": 12, "max_num_batched_tokens": 1024, "chunked_prefill": false,
                     "prefix_caching": true, "policy": "fcfs", "preemption": "recompute", "max_waiting": 50,
                     "max_queue_ms": 250, "block_size": 32, "kv_blocks": 0, "gpu_memory_utilization": 0.8}})");
        QVERIFY(store.load().isEmpty());
        const rl::serving_config c = store.serving();
        QCOMPARE(c.max_num_seqs, 12);
        QCOMPARE(c.max_num_batched_tokens, 1024);
        QVERIFY(!c.chunked_prefill);
        QVERIFY(c.policy == rl::schedule_policy::fcfs);
        QCOMPARE(c.max_waiting, 50);
        QCOMPARE(c.max_queue_ms, 250.0);
        QCOMPARE(c.block_size, 32);
        QCOMPARE(c.kv_blocks, 0);
        QCOMPARE(c.gpu_memory_utilization, 0.8);
    }

    void badPresetAndWrongTypedSettingsRefused() {
        QTemporaryDir dir;
        SettingsStore store(nullptr, dir.path());
        writeRaw(store.settingsFile(), R"({"serving": {"prefix_caching": "yes"}})");
        writeRaw(store.presetsFile(), R"({"odd": {"block_size": 24}, "fine": {"max_num_seqs": 2}})");
        const QString msg = store.load();
        QVERIFY2(msg.contains(QStringLiteral("prefix_caching")) && !msg.contains(QLatin1Char('\n')), qPrintable(msg));
        QVERIFY(store.serving().prefix_caching);   // the default
        rl::serving_config c;
        c.max_num_seqs = 5;
        QCOMPARE(store.preset(QStringLiteral("odd"), &c).field, std::string("block_size"));
        QCOMPARE(c.max_num_seqs, 5);   // untouched
        QVERIFY(!store.preset(QStringLiteral("fine"), &c));
        QCOMPARE(c.max_num_seqs, 2);
        QCOMPARE(c.block_size, rl::serving_config{}.block_size);   // a preset starts from defaults
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
             impossibleSavedServingRefused, servingJsonCoversEveryKnob, servingJsonRefusesByKnobName,
             oldServingFilesStillRead, badPresetAndWrongTypedSettingsRefused, corruptConversationsSetAside)
#include "test_json_files.moc"
