// test_sampling_panel: the chat's reply side (issue 20, "Chat"). The SamplingKnobs table against
// the engine's own validator; the Reply settings panel writing GenerationSettings and the
// settings file (a second window reads them back); Markdown replies rendered by Qt while the
// person's text stays as typed; the waiting reply's status line; a reply cut by a crash keeping
// its text and token count; the view following the person's new message; and, on the real
// default model (CPU), "queued" then "processing prompt" before the first token then the live
// tok/s, and the system prompt reaching the engine; behind a running request, the reply's place
// in the queue.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_sampling_panel   (label gui)
#include "rl_test.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "ConversationModel.h"
#include "EngineBridge.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "SamplingKnobs.h"
#include "SamplingPanel.h"
#include "SettingsStore.h"
#include "TranscriptView.h"
#include "runtime/engine.h"
#include "serving/sampler.h"

#include <QDoubleSpinBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextDocument>
#include <QTextList>

#include <memory>

using State = ConversationModel::State;

class TestSamplingPanel : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void tableInsideValidator();
    void panelEditsSettings();
    void settingsPersist();
    void markdownRendered();
    void waitingStatusShown();
    void interruptedReplyKeepsCount();
    void ownMessageScrollsDown();
    void replyWaitsVisibly();
    void queuedReplyShowsPlace();

private:
    void newWindow();
    bool loadDefaultModel();   // the default model on the CPU, uncalibrated; false on a load error
    static void typeInto(QAbstractSpinBox* box, const QString& text);

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestSamplingPanel::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
}

void TestSamplingPanel::cleanup() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

void TestSamplingPanel::newWindow() {
    delete mWindow;
    mWindow = new MainWindow;
    mWindow->resize(1366, 768);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
}

bool TestSamplingPanel::loadDefaultModel() {
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = false;
    QSignalSpy loaded(mWindow->bridge(), &EngineBridge::loaded);
    mWindow->loadModel(s);
    return QTest::qWaitFor([&] { return loaded.count() > 0 || mWindow->banner()->isVisible(); }, 60000) &&
           loaded.count() == 1;
}

void TestSamplingPanel::typeInto(QAbstractSpinBox* box, const QString& text) {
    box->setFocus();
    box->selectAll();
    QTest::keyClicks(box, text);
    QTest::keyClick(box, Qt::Key_Return);
}

void TestSamplingPanel::tableInsideValidator() {
    // Every value the panel can reach is one the engine takes: both ends of every range.
    QVERIFY(rl::validate(toSamplingParams(GenerationSettings())).empty());
    for (const SamplingKnob& k : samplingKnobs()) {
        QVERIFY2(k.min <= k.get(GenerationSettings()) && k.get(GenerationSettings()) <= k.max, k.key);
        for (double v : {k.min, k.max}) {
            GenerationSettings g;
            k.set(g, v);
            QCOMPARE(float(k.get(g)), float(v));   // the setter and getter read the same field
            const std::string why = rl::validate(toSamplingParams(g));
            QVERIFY2(why.empty(), (std::string(k.key) + ": " + why).c_str());
        }
    }
    // And the validator is what refuses past them (so the table is not looser than the engine).
    GenerationSettings g;
    g.topP = 0.f;
    QVERIFY(!rl::validate(toSamplingParams(g)).empty());
    g = GenerationSettings();
    g.minP = 1.f;
    QVERIFY(!rl::validate(toSamplingParams(g)).empty());
}

void TestSamplingPanel::panelEditsSettings() {
    SamplingPanel panel;
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QSignalSpy edited(&panel, &SamplingPanel::settingsEdited);
    for (const SamplingKnob& k : samplingKnobs()) QVERIFY2(panel.control(QLatin1String(k.key)), k.key);
    typeInto(panel.control(QStringLiteral("temperature")), QStringLiteral("0.25"));
    typeInto(panel.control(QStringLiteral("top_k")), QStringLiteral("7"));
    typeInto(panel.control(QStringLiteral("min_p")), QStringLiteral("0.05"));
    typeInto(panel.control(QStringLiteral("seed")), QStringLiteral("1234"));
    typeInto(panel.control(QStringLiteral("top_p")), QStringLiteral("5"));   // past the range: not taken
    panel.systemPrompt()->setFocus();
    QTest::keyClicks(panel.systemPrompt(), QStringLiteral("Be brief."));
    QVERIFY(edited.count() >= 5);
    const GenerationSettings g = edited.last().at(0).value<GenerationSettings>();
    QCOMPARE(g.temperature, 0.25f);
    QCOMPARE(g.topK, 7);
    QCOMPARE(g.minP, 0.05f);
    QCOMPARE(g.seed, quint64(1234));
    QCOMPARE(g.topP, GenerationSettings().topP);
    QCOMPARE(g.systemPrompt, QStringLiteral("Be brief."));

    // Defaults: back to GenerationSettings{} but the system prompt stays.
    panel.findChild<QPushButton*>(QStringLiteral("samplingDefaultsButton"))->click();
    const GenerationSettings d = panel.settings();
    QCOMPARE(d.temperature, GenerationSettings().temperature);
    QCOMPARE(d.topK, GenerationSettings().topK);
    QCOMPARE(d.systemPrompt, QStringLiteral("Be brief."));
}

void TestSamplingPanel::settingsPersist() {
    newWindow();
    SamplingPanel* panel = mWindow->samplingPanel();
    QVERIFY(panel->isHidden());
    mWindow->findChild<QPushButton*>(QStringLiteral("replySettingsButton"))->click();
    QVERIFY(panel->isVisible());
    typeInto(panel->control(QStringLiteral("max_tokens")), QStringLiteral("77"));
    typeInto(panel->control(QStringLiteral("min_p")), QStringLiteral("0.1"));
    QCOMPARE(mWindow->chat()->generationSettings().maxTokens, 77);   // the next reply uses it
    QCOMPARE(mWindow->chat()->generationSettings().minP, 0.1f);

    newWindow();   // the first one saves as it goes away; the second reads the file
    QCOMPARE(mWindow->chat()->generationSettings().maxTokens, 77);
    QCOMPARE(mWindow->chat()->generationSettings().minP, 0.1f);
    QCOMPARE(qobject_cast<QSpinBox*>(mWindow->samplingPanel()->control(QStringLiteral("max_tokens")))->value(), 77);
}

void TestSamplingPanel::markdownRendered() {
    ConversationModel m;
    TranscriptView view(&m);
    m.appendUser(QStringLiteral("say **hi**"));
    const int row = m.beginAssistant();
    m.appendText(row, QStringLiteral("The **KV** cache"));
    m.appendText(row, QStringLiteral(" keeps:\n\n- keys\n- values\n"));
    view.flush();
    const QString plain = view.document()->toPlainText();
    QVERIFY2(plain.contains(QStringLiteral("say **hi**")), qPrintable(plain));   // the person's text as typed
    QVERIFY2(plain.contains(QStringLiteral("The KV cache keeps:")), qPrintable(plain));
    QVERIFY2(!plain.contains(QStringLiteral("**KV**")), qPrintable(plain));
    bool bold = false, list = false;
    for (QTextBlock b = view.document()->begin(); b.isValid(); b = b.next()) {
        list = list || (b.textList() && b.text() == QLatin1String("values"));
        for (auto it = b.begin(); !it.atEnd(); ++it)
            if (it.fragment().text() == QLatin1String("KV") && it.fragment().charFormat().fontWeight() >= QFont::Bold)
                bold = true;
    }
    QVERIFY(bold);
    QVERIFY(list);

    ReplyStats s;
    s.finishReason = QStringLiteral("stop");
    m.finish(row, s);
    view.flush();
    QVERIFY(view.document()->toPlainText().contains(QStringLiteral("The KV cache")));   // the footer follows it
}

void TestSamplingPanel::waitingStatusShown() {
    ConversationModel m;
    TranscriptView view(&m);
    m.appendUser(QStringLiteral("hi"));
    const int row = m.beginAssistant();
    view.flush();
    m.setStatus(row, QStringLiteral("queued: waiting for the engine"));
    view.flush();
    QVERIFY(view.document()->toPlainText().contains(QStringLiteral("queued: waiting")));
    m.setStatus(row, QStringLiteral("processing prompt 34% (340 of 1000 tokens)"));
    view.flush();
    QVERIFY(view.document()->toPlainText().contains(QStringLiteral("processing prompt 34%")));
    QVERIFY(!view.document()->toPlainText().contains(QStringLiteral("queued")));
    m.appendText(row, QStringLiteral("Hello"));
    view.flush();
    QVERIFY(view.document()->toPlainText().contains(QStringLiteral("Hello")));
    QVERIFY(!view.document()->toPlainText().contains(QStringLiteral("processing prompt")));
    QVERIFY(m.message(row).status.isEmpty());
}

void TestSamplingPanel::interruptedReplyKeepsCount() {
    // What the store wrote while the reply streamed is what a crash leaves behind.
    ConversationModel before;
    before.appendUser(QStringLiteral("hi"));
    const int row = before.beginAssistant();
    for (const char* piece : {"One", " two", " three"}) before.appendText(row, QLatin1String(piece));
    ConversationModel after;
    after.loadJson(before.toJson());
    QCOMPARE(after.message(row).text, QStringLiteral("One two three"));
    QCOMPARE(after.message(row).state, State::Cancelled);
    QCOMPARE(after.message(row).stats.generatedTokens, 3);
    const QString footer = TranscriptView::footerText(&after, row);
    QVERIFY2(footer.startsWith(QStringLiteral("3 tokens")), qPrintable(footer));
    QVERIFY2(footer.contains(QStringLiteral("interrupted")), qPrintable(footer));
    QVERIFY2(!footer.contains(QStringLiteral("stopped")) && !footer.contains(QStringLiteral("TTFT")), qPrintable(footer));
}

void TestSamplingPanel::ownMessageScrollsDown() {
    // Scrolled up to read, the person sends again: the view goes down to the new message.
    ConversationModel m;
    TranscriptView view(&m);
    view.resize(400, 200);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    for (int i = 0; i < 20; ++i) m.appendUser(QStringLiteral("message %1").arg(i));
    QScrollBar* bar = view.verticalScrollBar();
    QVERIFY(bar->maximum() > 0);
    bar->setValue(0);
    m.appendUser(QStringLiteral("one more"));
    QCOMPARE(bar->value(), bar->maximum());
}

void TestSamplingPanel::replyWaitsVisibly() {
    newWindow();
    GenerationSettings g;
    g.maxTokens = 4;
    g.temperature = 0.f;
    mWindow->setGenerationSettings(g);
    QVERIFY2(loadDefaultModel(), qPrintable(mWindow->banner()->text()));

    // Every status the reply row shows before its first token, in order.
    QStringList seen;
    ConversationModel* m = mWindow->conversation();
    connect(m, &QAbstractItemModel::dataChanged, this, [&](const QModelIndex& i) {
        const QString st = m->message(i.row()).status;
        if (!st.isEmpty() && (seen.isEmpty() || seen.last() != st)) seen << st;
    });
    QSignalSpy finished(mWindow->chat(), &ChatController::replyFinished);
    QSignalSpy progress(mWindow->chat(), &ChatController::replyProgress);   // what the status bar shows
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Hi")));
    if (!m->message(1).status.isEmpty()) seen.prepend(m->message(1).status);   // set before we could see it change
    QVERIFY(QTest::qWaitFor([&] { return finished.count() > 0; }, 120000));
    QVERIFY2(seen.size() >= 2, qPrintable(seen.join(QStringLiteral(" | "))));
    QVERIFY2(seen.first().startsWith(QStringLiteral("queued")), qPrintable(seen.join(QStringLiteral(" | "))));
    QVERIFY2(seen.last().startsWith(QStringLiteral("processing prompt 0%")), qPrintable(seen.join(QStringLiteral(" | "))));
    const int plainPrompt = finished.last().at(0).value<ReplyStats>().promptTokens;
    QVERIFY(progress.count() >= 3);
    QVERIFY(progress.first().at(0).toString().startsWith(QStringLiteral("queued")));
    QVERIFY2(progress.last().at(0).toString().endsWith(QStringLiteral("tok/s")), qPrintable(progress.last().at(0).toString()));

    // The system prompt is sent as the first turn: the same question costs more prompt tokens
    // (this one is far longer than any default system line a template may add).
    g.systemPrompt = QStringLiteral("You are a terse assistant. You answer in one word whenever you can, you never "
                                    "apologise, you never repeat the question, and you never add a greeting, a "
                                    "summary or a closing line to what you say.");
    mWindow->setGenerationSettings(g);
    QVERIFY(mWindow->chat()->regenerate());
    QVERIFY(QTest::qWaitFor([&] { return finished.count() > 1; }, 120000));
    QVERIFY(finished.last().at(0).value<ReplyStats>().promptTokens > plainPrompt + 8);
}

void TestSamplingPanel::queuedReplyShowsPlace() {
    QCOMPARE(ChatController::queuedText(1, 1), QStringLiteral("queued: next in line"));
    QCOMPARE(ChatController::queuedText(2, 2), QStringLiteral("queued: 2nd in line"));
    QCOMPARE(ChatController::queuedText(3, 5), QStringLiteral("queued: 3rd in line (5 waiting)"));
    QCOMPARE(ChatController::queuedText(11, 11), QStringLiteral("queued: 11th in line"));
    QCOMPARE(ChatController::queuedText(22, 22), QStringLiteral("queued: 22nd in line"));

    // One seat, taken by a long request that ignores end-of-text: the chat's reply waits behind
    // it and its row says where it stands, from the metrics snapshot.
    newWindow();
    QVERIFY2(loadDefaultModel(), qPrintable(mWindow->banner()->text()));
    rl::engine* eng = mWindow->bridge()->engine();
    rl::serving_config cfg = eng->current_config();
    cfg.max_num_seqs = 1;
    QCOMPARE(mWindow->bridge()->applyServing(cfg), QString());
    rl::request hog;
    hog.prompt = eng->tokenize_chat({{"user", "Count."}});
    hog.max_tokens = 4000;
    hog.ignore_eos = true;
    hog.priority = GenerationSettings().priority;   // the chat's own rank: it does not take the seat
    const quint64 hogId = eng->submit(hog);
    QVERIFY(QTest::qWaitFor([&] { return eng->snapshot().num_requests_running == 1; }, 20000));

    ConversationModel* m = mWindow->conversation();
    QSignalSpy finished(mWindow->chat(), &ChatController::replyFinished);
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Hi")));
    const bool placed = QTest::qWaitFor([&] { return m->message(1).status == QLatin1String("queued: next in line"); }, 10000);
    eng->cancel(hogId);
    QVERIFY2(placed, qPrintable(m->message(1).status));
    QVERIFY(QTest::qWaitFor([&] { return finished.count() > 0; }, 120000));
}

QTEST_MAIN(TestSamplingPanel)
#include "test_sampling_panel.moc"
