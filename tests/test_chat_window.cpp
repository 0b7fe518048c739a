// test_chat_window: the first window (ui/). ConversationModel streaming without a display, the
// ChatPanel's keys, and the whole MainWindow against the real default model on the CPU backend:
// load off the GUI thread, a streamed round trip into the transcript, TTFT and tok/s in the
// status line, Esc stopping a reply, a bad model path shown as an error while the window lives,
// and the model's display name.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_chat_window   (label gui)
#include "rl_test.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "ConversationModel.h"
#include "EngineBridge.h"
#include "EngineStatusBar.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "TranscriptView.h"

#include <QElapsedTimer>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTemporaryFile>

#include <memory>

using Sender = ConversationModel::Sender;
using State = ConversationModel::State;

class TestChatWindow : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void conversationModelStreams();
    void chatPanelKeys();
    void modelNameCleaned();
    void windowBuilds();
    void chatRoundTrip();
    void escStopsReply();
    void badModelShowsError();

private:
    bool loadDefaultModel();
    QString label(const char* name) const;

    MainWindow* mWindow = nullptr;
    std::unique_ptr<QTemporaryDir> mDataDir;   // each test starts with no saved conversations
};

void TestChatWindow::init() {
    mDataDir = std::make_unique<QTemporaryDir>();
    qputenv("RIDGELINE_DATA_DIR", mDataDir->path().toLocal8Bit());
    mWindow = new MainWindow;
    GenerationSettings g;
    g.maxTokens = 16;
    g.temperature = 0.f;   // greedy: quick and repeatable
    mWindow->setGenerationSettings(g);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
}

void TestChatWindow::cleanup() {
    delete mWindow;   // joins the loader and the engine thread
    mWindow = nullptr;
    mDataDir.reset();
}

bool TestChatWindow::loadDefaultModel() {
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = false;   // the peaks are not shown yet; skip the second it takes
    mWindow->loadModel(s);
    return QTest::qWaitFor([this] { return mWindow->bridge()->isLoaded() || mWindow->banner()->isVisible(); },
                           60000) &&
           mWindow->bridge()->isLoaded();
}

QString TestChatWindow::label(const char* name) const {
    auto* l = mWindow->findChild<QLabel*>(QLatin1String(name));
    return l ? l->text() : QString();
}

void TestChatWindow::conversationModelStreams() {
    ConversationModel m;
    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);

    QCOMPARE(m.appendUser(QStringLiteral("Hi")), 0);
    const int row = m.beginAssistant();
    QCOMPARE(row, 1);
    QCOMPARE(inserted.count(), 2);
    QVERIFY(m.isStreaming());
    QCOMPARE(m.history().size(), 1);   // the open reply is not history yet

    m.appendText(row, QStringLiteral("Hel"));
    m.appendText(row, QString());      // empty deltas are dropped
    m.appendText(row, QStringLiteral("lo!"));
    QCOMPARE(changed.count(), 2);
    QCOMPARE(m.message(row).text, QStringLiteral("Hello!"));
    QCOMPARE(m.data(m.index(row), ConversationModel::TextRole).toString(), QStringLiteral("Hello!"));
    QCOMPARE(m.message(row).state, State::Streaming);

    ReplyStats s;
    s.finishReason = QStringLiteral("stop");
    s.generatedTokens = 3;
    m.finish(row, s);
    QCOMPARE(m.message(row).state, State::Complete);
    QVERIFY(!m.isStreaming());
    m.appendText(row, QStringLiteral("late"));   // a closed row does not grow
    QCOMPARE(m.message(row).text, QStringLiteral("Hello!"));

    const QList<ChatTurn> h = m.history();
    QCOMPARE(h.size(), 2);
    QCOMPARE(h[0].role, QStringLiteral("user"));
    QCOMPARE(h[1].role, QStringLiteral("assistant"));
    QCOMPARE(h[1].content, QStringLiteral("Hello!"));

    const int bad = m.beginAssistant();
    ReplyStats e;
    e.finishReason = QStringLiteral("error");
    e.error = QStringLiteral("boom");
    m.finish(bad, e);
    QCOMPARE(m.message(bad).state, State::Failed);
    QCOMPARE(m.history().size(), 2);   // failed replies are not sent back to the model

    QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
    m.clear();
    QCOMPARE(reset.count(), 1);
    QCOMPARE(m.rowCount(), 0);
}

void TestChatWindow::chatPanelKeys() {
    ConversationModel m;
    ChatPanel panel(&m);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QSignalSpy send(&panel, &ChatPanel::sendRequested);
    QSignalSpy stop(&panel, &ChatPanel::stopRequested);
    auto* sendButton = panel.findChild<QPushButton*>(QStringLiteral("sendButton"));
    QVERIFY(sendButton);

    panel.setReady(false);
    panel.setInputText(QStringLiteral("ignored"));
    panel.submit();
    QCOMPARE(send.count(), 0);         // no model: nothing is sent
    QVERIFY(!sendButton->isEnabled());

    panel.setReady(true);
    panel.setInputText(QString());
    panel.input()->setFocus();
    QTest::keyClicks(panel.input(), QStringLiteral("Hello there"));
    QVERIFY(sendButton->isEnabled());
    QTest::keyClick(panel.input(), Qt::Key_Return);   // Enter sends
    QCOMPARE(send.count(), 1);
    QCOMPARE(send.at(0).at(0).toString(), QStringLiteral("Hello there"));
    QVERIFY(panel.inputText().isEmpty());

    // Shift+Enter makes a new line (a real "\n", not U+2028) and does not send.
    QTest::keyClicks(panel.input(), QStringLiteral("line one"));
    QTest::keyClick(panel.input(), Qt::Key_Return, Qt::ShiftModifier);
    QTest::keyClicks(panel.input(), QStringLiteral("line two"));
    QCOMPARE(send.count(), 1);
    QCOMPARE(panel.inputText(), QStringLiteral("line one\nline two"));
    QTest::keyClick(panel.input(), Qt::Key_Enter, Qt::KeypadModifier);   // the keypad's Enter sends too
    QCOMPARE(send.count(), 2);
    QCOMPARE(send.at(1).at(0).toString(), QStringLiteral("line one\nline two"));
    QTest::keyClick(panel.input(), Qt::Key_Return, Qt::ControlModifier);   // Ctrl+Enter still sends
    QCOMPARE(send.count(), 2);                        // (nothing: the box is empty)
    QVERIFY(panel.inputText().isEmpty());             // and Enter on an empty box adds no newline

    panel.setBusy(true);
    QTest::keyClick(panel.input(), Qt::Key_Escape);
    QCOMPARE(stop.count(), 1);
    panel.setBusy(false);
    QTest::keyClick(panel.input(), Qt::Key_Escape);   // idle: Esc does nothing
    QCOMPARE(stop.count(), 1);
}

void TestChatWindow::modelNameCleaned() {
    // The file's name when it names a model, its quantization apart; else general.name.
    const QString junk = QStringLiteral("Smollm2 135M 8k Lc100K Mix1 Ep2");
    QCOMPARE(Format::modelName(QStringLiteral("/m/SmolLM2-135M-Instruct.Q4_1.gguf"), junk),
             QStringLiteral("SmolLM2-135M-Instruct (Q4_1)"));
    QCOMPARE(Format::modelName(QStringLiteral("Meta-Llama-3-8B-Instruct-Q8_0.gguf"), QStringLiteral("x")),
             QStringLiteral("Meta-Llama-3-8B-Instruct (Q8_0)"));
    QCOMPARE(Format::modelName(QStringLiteral("llama-2-7b.q4_k_m.gguf"), QString()), QStringLiteral("llama-2-7b (Q4_K_M)"));
    QCOMPARE(Format::modelName(QStringLiteral("qwen2.5-0.5b-instruct-bf16.gguf"), QString()),
             QStringLiteral("qwen2.5-0.5b-instruct (BF16)"));
    QCOMPARE(Format::modelName(QStringLiteral("/tmp/model.gguf"), QStringLiteral("Mistral 7B")), QStringLiteral("Mistral 7B"));
    QCOMPARE(Format::modelName(QStringLiteral("/tmp/model.gguf"), QString()), QStringLiteral("model"));
    QCOMPARE(Format::modelName(QStringLiteral("synthetic:tiny"), QStringLiteral("tiny")), QStringLiteral("tiny"));
}

void TestChatWindow::windowBuilds() {
    QVERIFY(mWindow->findChild<TranscriptView*>(QStringLiteral("transcript")));
    QVERIFY(mWindow->findChild<QPlainTextEdit*>(QStringLiteral("input")));
    QVERIFY(mWindow->findChild<EngineStatusBar*>(QStringLiteral("statusBar")));
    auto* sendButton = mWindow->findChild<QPushButton*>(QStringLiteral("sendButton"));
    QVERIFY(sendButton);
    QVERIFY(!sendButton->isEnabled());     // nothing loaded yet
    QVERIFY(!mWindow->banner()->isVisible());
    QVERIFY(!mWindow->sendPrompt(QStringLiteral("hello")));
    QVERIFY(!mWindow->grab().isNull());
}

void TestChatWindow::chatRoundTrip() {
    // The GUI thread must keep turning while the model loads and the reply streams.
    QElapsedTimer clock;
    clock.start();
    qint64 last = 0, worstGapMs = 0;
    QTimer tick;
    connect(&tick, &QTimer::timeout, this, [&] {
        worstGapMs = qMax(worstGapMs, clock.elapsed() - last);
        last = clock.elapsed();
    });
    tick.start(10);

    QVERIFY2(loadDefaultModel(), qPrintable(mWindow->banner()->text()));
    QVERIFY(label("statusModel").contains(QStringLiteral("SmolLM2"), Qt::CaseInsensitive));
    QVERIFY(!label("statusBackend").isEmpty());

    QSignalSpy finished(mWindow->chat(), &ChatController::replyFinished);
    QPlainTextEdit* input = mWindow->chatPanel()->input();
    input->setFocus();
    QTest::keyClicks(input, QStringLiteral("What is the capital of France?"));
    QTest::keyClick(input, Qt::Key_Return);
    ConversationModel* conv = mWindow->conversation();
    QCOMPARE(conv->count(), 2);
    QCOMPARE(conv->message(0).sender, Sender::User);
    QVERIFY(mWindow->chat()->isBusy());

    QTRY_VERIFY_WITH_TIMEOUT(!conv->message(1).text.isEmpty(), 60000);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    tick.stop();

    const ReplyStats stats = finished.at(0).at(0).value<ReplyStats>();
    QVERIFY2(stats.finishReason == QLatin1String("stop") || stats.finishReason == QLatin1String("length"),
             qPrintable(stats.finishReason + QLatin1Char(' ') + stats.error));
    QVERIFY(stats.generatedTokens > 0 && stats.generatedTokens <= 16);
    QVERIFY(stats.ttftMs > 0);
    QCOMPARE(conv->message(1).state, State::Complete);
    QVERIFY(!mWindow->chat()->isBusy());

    TranscriptView* transcript = mWindow->chatPanel()->transcript();
    transcript->flush();
    const QString reply = conv->message(1).text;
    QVERIFY2(transcript->toPlainText().contains(reply.trimmed()), qPrintable(reply));
    QVERIFY(transcript->toPlainText().contains(QStringLiteral("capital of France")));

    QVERIFY2(QRegularExpression(QStringLiteral("^TTFT [0-9.]+ m?s$")).match(label("statusTtft")).hasMatch(),
             qPrintable(label("statusTtft")));
    if (stats.generatedTokens > 1)
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9.]+ tok/s$")).match(label("statusSpeed")).hasMatch(),
                 qPrintable(label("statusSpeed")));
    QVERIFY2(worstGapMs < 1500, qPrintable(QStringLiteral("GUI thread stalled %1 ms").arg(worstGapMs)));

    // A second turn carries the history and streams into a new row.
    QVERIFY(mWindow->sendPrompt(QStringLiteral("And of Italy?")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QCOMPARE(conv->count(), 4);
    QVERIFY(!conv->message(3).text.isEmpty());
}

void TestChatWindow::escStopsReply() {
    QVERIFY2(loadDefaultModel(), qPrintable(mWindow->banner()->text()));
    GenerationSettings g = mWindow->chat()->generationSettings();
    g.maxTokens = 400;
    mWindow->setGenerationSettings(g);
    QSignalSpy finished(mWindow->chat(), &ChatController::replyFinished);
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Write a long story about a lighthouse keeper.")));
    ConversationModel* conv = mWindow->conversation();
    QTRY_VERIFY_WITH_TIMEOUT(!conv->message(1).text.isEmpty(), 60000);
    QTest::keyClick(mWindow->chatPanel()->input(), Qt::Key_Escape);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    const ReplyStats stats = finished.at(0).at(0).value<ReplyStats>();
    if (stats.finishReason == QLatin1String("stop")) QSKIP("the model stopped on its own before Esc");
    QCOMPARE(stats.finishReason, QStringLiteral("cancelled"));
    QCOMPARE(conv->message(1).state, State::Cancelled);
    QVERIFY(stats.generatedTokens < 400);
    QVERIFY(!mWindow->chat()->isBusy());
}

void TestChatWindow::badModelShowsError() {
    EngineSettings s;
    s.modelPath = QStringLiteral("/nonexistent/dir/missing-model.gguf");
    mWindow->loadModel(s);
    QTRY_VERIFY_WITH_TIMEOUT(mWindow->banner()->isVisible(), 20000);
    QCOMPARE(mWindow->banner()->kind(), MessageBanner::Kind::Error);
    QVERIFY2(mWindow->banner()->text().startsWith(QStringLiteral("Could not load the model")),
             qPrintable(mWindow->banner()->text()));
    QVERIFY(!mWindow->bridge()->isLoaded());
    QVERIFY(mWindow->isVisible());
    QVERIFY(label("statusState").contains(QStringLiteral("not loaded")));
    QVERIFY(!mWindow->findChild<QPushButton*>(QStringLiteral("sendButton"))->isEnabled());
    QVERIFY(!mWindow->sendPrompt(QStringLiteral("hello")));

    // A file that is not GGUF is refused the same way.
    QTemporaryFile junk;
    QVERIFY(junk.open());
    junk.write("this is not a gguf file, just some text\n");
    junk.flush();
    mWindow->banner()->hide();
    s.modelPath = junk.fileName();
    mWindow->loadModel(s);
    QTRY_VERIFY_WITH_TIMEOUT(mWindow->banner()->isVisible(), 20000);
    QCOMPARE(mWindow->banner()->kind(), MessageBanner::Kind::Error);
    QVERIFY(!mWindow->bridge()->isLoaded());

    // The window keeps running: the real model loads afterwards and the banner clears.
    QVERIFY2(loadDefaultModel(), qPrintable(mWindow->banner()->text()));
    QVERIFY(!mWindow->banner()->isVisible());
}

QTEST_MAIN(TestChatWindow)
#include "test_chat_window.moc"
