// test_conversation_settings: reply settings belong to the conversation (issue 20, "Chat"). Set
// on chat A in the Reply settings panel, a new chat B starts from them (the last-used), B is
// given its own, and switching back shows A's in the panel and asks A's next reply with them
// (the GenerationSettings ChatController submits). They survive a ConversationStore save and
// reload; a file from before conversations had settings still loads, with the last-used ones.
// Needs the default model (CPU) for the submitted reply.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_conversation_settings   (label gui)
#include "rl_test.h"

#include "ChatController.h"
#include "ConversationModel.h"
#include "ConversationStore.h"
#include "EngineBridge.h"
#include "JsonFile.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "SamplingPanel.h"

#include <QDoubleSpinBox>
#include <QJsonArray>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>

#include <memory>

namespace {
QString describe(const GenerationSettings& g) {
    return QStringLiteral("temp %1 top_p %2 top_k %3 min_p %4 max %5 seed %6 prio %7 system '%8'")
        .arg(g.temperature).arg(g.topP).arg(g.topK).arg(g.minP).arg(g.maxTokens).arg(g.seed)
        .arg(g.priority).arg(g.systemPrompt);
}
#define COMPARE_SETTINGS(actual, expected) \
    QVERIFY2((actual) == (expected), qPrintable(describe(actual) + QStringLiteral(" != ") + describe(expected)))
} // namespace

class TestConversationSettings : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void settingsFollowConversation();
    void oldFileLoadsWithLastUsed();

private:
    void typeSettings(const GenerationSettings& g);
    GenerationSettings shown() const;

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestConversationSettings::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
}

void TestConversationSettings::cleanup() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

// Types every value into the panel as a person would (one edit per control).
void TestConversationSettings::typeSettings(const GenerationSettings& g) {
    SamplingPanel* panel = mWindow->samplingPanel();
    auto type = [](QAbstractSpinBox* box, const QString& text) {
        box->setFocus();
        box->selectAll();
        QTest::keyClicks(box, text);
        QTest::keyClick(box, Qt::Key_Return);
    };
    type(panel->control(QStringLiteral("temperature")), QString::number(g.temperature));
    type(panel->control(QStringLiteral("top_p")), QString::number(g.topP));
    type(panel->control(QStringLiteral("top_k")), QString::number(g.topK));
    type(panel->control(QStringLiteral("min_p")), QString::number(g.minP));
    type(panel->control(QStringLiteral("max_tokens")), QString::number(g.maxTokens));
    type(panel->control(QStringLiteral("seed")), QString::number(g.seed));
    panel->systemPrompt()->setFocus();
    panel->systemPrompt()->selectAll();
    QTest::keyClicks(panel->systemPrompt(), g.systemPrompt);
}

GenerationSettings TestConversationSettings::shown() const { return mWindow->samplingPanel()->settings(); }

void TestConversationSettings::settingsFollowConversation() {
    mWindow = new MainWindow;
    mWindow->resize(1366, 768);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    mWindow->findChild<QPushButton*>(QStringLiteral("replySettingsButton"))->click();
    ChatController* chat = mWindow->chat();
    ConversationStore* store = chat->store();

    GenerationSettings a;
    a.temperature = 0.25f;
    a.topP = 0.8f;
    a.topK = 7;
    a.minP = 0.05f;
    a.maxTokens = 3;
    a.seed = 1234;
    a.systemPrompt = QStringLiteral("Answer as A.");
    GenerationSettings b;
    b.temperature = 1.5f;
    b.topP = 0.5f;
    b.topK = 90;
    b.minP = 0.2f;
    b.maxTokens = 2;
    b.seed = 99;
    b.systemPrompt = QStringLiteral("Answer as B.");

    const int rowA = store->current();
    typeSettings(a);
    COMPARE_SETTINGS(chat->generationSettings(), a);

    // A new chat starts from the last-used settings, then gets its own.
    mWindow->findChild<QPushButton*>(QStringLiteral("newButton"))->click();
    const int rowB = store->current();
    QVERIFY(rowB != rowA);
    COMPARE_SETTINGS(shown(), a);
    typeSettings(b);
    COMPARE_SETTINGS(chat->generationSettings(), b);
    COMPARE_SETTINGS(store->at(rowA).model->settings(), a);   // editing B left A alone

    // Back to A: the panel shows A's, and A's next reply is asked with them.
    store->setCurrent(rowA);
    COMPARE_SETTINGS(shown(), a);
    COMPARE_SETTINGS(chat->generationSettings(), a);
    store->setCurrent(rowB);
    COMPARE_SETTINGS(shown(), b);
    store->setCurrent(rowA);

    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = false;
    mWindow->loadModel(s);
    QVERIFY2(QTest::qWaitFor([&] { return mWindow->bridge()->isLoaded() || mWindow->banner()->isVisible(); }, 60000) &&
                 mWindow->bridge()->isLoaded(),
             qPrintable(mWindow->banner()->text()));
    QSignalSpy started(chat, &ChatController::replyStarted);
    QSignalSpy finished(chat, &ChatController::replyFinished);
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Hi")));
    QCOMPARE(started.count(), 1);
    COMPARE_SETTINGS(started.last().at(0).value<GenerationSettings>(), a);
    QVERIFY(QTest::qWaitFor([&] { return finished.count() > 0; }, 120000));
    const ReplyStats stats = finished.last().at(0).value<ReplyStats>();
    QVERIFY2(!stats.failed(), qPrintable(stats.error));
    QVERIFY2(stats.generatedTokens <= a.maxTokens, qPrintable(QString::number(stats.generatedTokens)));

    // Saved and read back by a second store over the same file: each chat keeps its own.
    QCOMPARE(store->saveNow(), QString());
    ConversationStore reread(nullptr, store->fileName());
    QCOMPARE(reread.load(), QString());
    QCOMPARE(reread.count(), store->count());
    COMPARE_SETTINGS(reread.at(rowA).model->settings(), a);
    COMPARE_SETTINGS(reread.at(rowB).model->settings(), b);

    // And a new window opens on A (the current one) showing A's settings.
    delete mWindow;
    mWindow = new MainWindow;
    COMPARE_SETTINGS(mWindow->chat()->generationSettings(), a);
    COMPARE_SETTINGS(shown(), a);
}

void TestConversationSettings::oldFileLoadsWithLastUsed() {
    // A conversations.json written before conversations had settings.
    const QString file = mDir->filePath(QStringLiteral("old.json"));
    const QJsonObject doc{
        {"version", 1},
        {"next_id", 3},
        {"current", 2},
        {"conversations",
         QJsonArray{QJsonObject{{"id", 1}, {"title", "old one"}, {"messages", QJsonArray{QJsonObject{{"sender", "user"}, {"text", "hi"}}}}},
                    QJsonObject{{"id", 2}, {"title", "partial"}, {"settings", QJsonObject{{"top_k", 5}}}, {"messages", QJsonArray{}}}}}};
    QString error;
    QVERIFY2(JsonFile::write(file, doc, &error), qPrintable(error));

    ConversationStore plain(nullptr, file);
    QCOMPARE(plain.load(), QString());
    QCOMPARE(plain.count(), 2);
    QCOMPARE(plain.at(0).model->count(), 1);
    COMPARE_SETTINGS(plain.at(0).model->settings(), GenerationSettings());   // built-in defaults

    GenerationSettings last;
    last.temperature = 0.f;
    last.systemPrompt = QStringLiteral("Be brief.");
    ConversationStore withLast(nullptr, file);
    withLast.setNewSettings(last);
    QCOMPARE(withLast.load(), QString());
    COMPARE_SETTINGS(withLast.at(0).model->settings(), last);
    GenerationSettings partial = last;   // the keys a file has win; the rest are the last-used
    partial.topK = 5;
    COMPARE_SETTINGS(withLast.at(1).model->settings(), partial);
    COMPARE_SETTINGS(withLast.at(withLast.create()).model->settings(), last);
}

QTEST_MAIN(TestConversationSettings)
#include "test_conversation_settings.moc"
