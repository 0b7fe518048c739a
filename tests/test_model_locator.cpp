// test_model_locator: the GUI's start-up model search order (app/gui/ModelLocator), a pure
// function from candidates to the chosen path, with a fake file system. Also the XDG data dir
// rule and where the installed fetch script is looked for.
// Run: ./build/tests/test_model_locator   (label unit)
#include "rl_test.h"

#include "../app/gui/ModelLocator.h"

#include <QSet>

namespace {
QSet<QString> gFiles;
bool fakeExists(const QString& p) { return gFiles.contains(p); }
} // namespace

class TestModelLocator : public QObject {
    Q_OBJECT
private slots:
    void init() { gFiles.clear(); }
    void cleanup() { gFiles.clear(); }

    void argumentWinsEvenWhenMissing() {
        ModelLocator::Candidates c{"/nope.gguf", "/env.gguf", "/saved.gguf", "/src/m.gguf", "/home/m.gguf"};
        gFiles = {"/env.gguf", "/saved.gguf", "/src/m.gguf", "/home/m.gguf"};
        const auto ch = ModelLocator::choose(c, fakeExists);
        QCOMPARE(ch.path, QStringLiteral("/nope.gguf"));   // the window reports the bad path
        QCOMPARE(ch.source, QStringLiteral("argument"));
    }
    void environmentThenSaved() {
        ModelLocator::Candidates c{"", "/env.gguf", "/saved.gguf", "/src/m.gguf", "/home/m.gguf"};
        QCOMPARE(ModelLocator::choose(c, fakeExists).source, QStringLiteral("environment"));
        c.environment.clear();
        QVERIFY(ModelLocator::choose(c, fakeExists).path.isEmpty());   // nothing exists
        gFiles = {"/saved.gguf"};
        QCOMPARE(ModelLocator::choose(c, fakeExists).path, QStringLiteral("/saved.gguf"));
        c.saved = QStringLiteral("synthetic:smollm2-135m");   // synthetic needs no file
        QCOMPARE(ModelLocator::choose(c, fakeExists).source, QStringLiteral("saved"));
    }
    void sourceTreeBeforeUserData() {
        ModelLocator::Candidates c{"", "", "/gone.gguf", "/src/m.gguf", "/home/m.gguf"};
        gFiles = {"/src/m.gguf", "/home/m.gguf"};
        auto ch = ModelLocator::choose(c, fakeExists);
        QCOMPARE(ch.path, QStringLiteral("/src/m.gguf"));
        QCOMPARE(ch.source, QStringLiteral("source tree"));
        gFiles = {"/home/m.gguf"};
        ch = ModelLocator::choose(c, fakeExists);
        QCOMPARE(ch.path, QStringLiteral("/home/m.gguf"));
        QCOMPARE(ch.source, QStringLiteral("user data"));
        QCOMPARE(ch.searched, (QStringList{"/src/m.gguf", "/home/m.gguf"}));
    }
    void noneFoundListsWhereItLooked() {
        ModelLocator::Candidates c{"", "", "", "", "/home/m.gguf"};   // installed: no source tree
        const auto ch = ModelLocator::choose(c, fakeExists);
        QVERIFY(ch.path.isEmpty());
        QVERIFY(ch.source.isEmpty());
        QCOMPARE(ch.searched, QStringList{"/home/m.gguf"});
    }
    void userModelDirFollowsXdg() {
        const QByteArray old = qgetenv("XDG_DATA_HOME");
        qputenv("XDG_DATA_HOME", "/xdg/data");
        QCOMPARE(ModelLocator::userModelDir(), QStringLiteral("/xdg/data/ridgeline/models"));
        QCOMPARE(ModelLocator::userDefaultModel(),
                 QStringLiteral("/xdg/data/ridgeline/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
        qputenv("XDG_DATA_HOME", "relative/ignored");
        QVERIFY(ModelLocator::userModelDir().endsWith(QLatin1String("/.local/share/ridgeline/models")));
        qunsetenv("XDG_DATA_HOME");
        QVERIFY(ModelLocator::userModelDir().endsWith(QLatin1String("/.local/share/ridgeline/models")));
        if (!old.isNull()) qputenv("XDG_DATA_HOME", old);
    }
    void fetchScriptInstalledFirst() {
        gFiles = {"/usr/lib/ridgeline/fetch-model", "/src/packaging/fetch-model"};
        QCOMPARE(ModelLocator::fetchScript("/usr/bin", "/src/packaging/fetch-model", fakeExists),
                 QStringLiteral("/usr/lib/ridgeline/fetch-model"));
        QCOMPARE(ModelLocator::fetchScript("/opt/x/bin", "/src/packaging/fetch-model", fakeExists),
                 QStringLiteral("/src/packaging/fetch-model"));
        QVERIFY(ModelLocator::fetchScript("/opt/x/bin", "", fakeExists).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestModelLocator)
#include "test_model_locator.moc"
