// test_workbench_window: the workbench window (ui/) around the chat: every panel builds; serving
// controls change the engine's serving_config through the ServingController, the one owner (the
// panel's make-up from the knob table: tests/test_serving_panel.cpp), invalid values are refused
// under their knob and the previous config stays, pool-shape changes wait for a restart, loads
// run with the owner's config; the chat over several conversations against the real default
// model on the CPU backend (streaming, regenerate, edit-and-resend, "At capacity" for a rejected
// request); persistence across a second MainWindow over the same RIDGELINE_DATA_DIR; corrupt
// files set aside as .bad; sessions; the recompute rule; and the real binary's --screenshot mode.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_workbench_window   (label gui)
#include "rl_test.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "ConversationModel.h"
#include "ConversationStore.h"
#include "EngineBridge.h"
#include "LoadGeneratorPanel.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "ModelPanel.h"
#include "PlotsPanel.h"
#include "ServingController.h"
#include "ServingPanel.h"
#include "SettingsStore.h"
#include "TranscriptView.h"
#include "runtime/engine.h"
#include "serving/serving_knobs.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QListView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QProcess>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>

#include <memory>

using Sender = ConversationModel::Sender;
using State = ConversationModel::State;

class TestWorkbenchWindow : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void recomputeRule();
    void panelsBuild();
    void servingControlsApply();
    void invalidValueRefused();
    void poolChangeNeedsRestart();
    void loadsTakeTheOwnersConfig();
    void chatConversations();
    void rejectedSaysAtCapacity();
    void conversationsAndSettingsPersist();
    void corruptSettingsSetAside();
    void sessionRoundTrip();
    void screenshotMode();

private:
    void newWindow();
    bool loadDefaultModel();
    rl::serving_config engineConfig() const { return mWindow->bridge()->engine()->current_config(); }
    template <class T> T* child(const char* name) const { return mWindow->findChild<T*>(QLatin1String(name)); }
    /// Selects the number in a spin box, types text and presses Enter, as a person would.
    static void typeInto(QAbstractSpinBox* box, const QString& text);

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestWorkbenchWindow::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    newWindow();
}

void TestWorkbenchWindow::cleanup() {
    delete mWindow;   // joins the loader, the virtual users and the engine thread; saves
    mWindow = nullptr;
    mDir.reset();
}

void TestWorkbenchWindow::newWindow() {
    delete mWindow;
    mWindow = new MainWindow;
    GenerationSettings g;
    g.maxTokens = 12;
    g.temperature = 0.f;
    mWindow->setGenerationSettings(g);
    mWindow->resize(1400, 900);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
}

bool TestWorkbenchWindow::loadDefaultModel() {
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = qEnvironmentVariableIsSet("RL_TEST_CALIBRATE");
    s.serving = mWindow->serving()->config();
    QSignalSpy done(mWindow->bridge(), &EngineBridge::loaded);
    QSignalSpy failed(mWindow->bridge(), &EngineBridge::loadFailed);
    mWindow->loadModel(s);
    return QTest::qWaitFor([&] { return done.count() + failed.count() > 0; }, 60000) && done.count() == 1;
}

void TestWorkbenchWindow::recomputeRule() {
    // No baseline (first turn, fresh engine): never flagged.
    QVERIFY(!ChatController::wasRecomputed(0, 100, 0, 16));
    // The previous turn computed 200 tokens; all full blocks came back: not flagged.
    QVERIFY(!ChatController::wasRecomputed(192, 260, 200, 16));
    // One block short (the template re-tokenizing the boundary) is tolerated.
    QVERIFY(!ChatController::wasRecomputed(176, 260, 200, 16));
    // Evicted: only 32 of the ~192 cached tokens came back.
    QVERIFY(ChatController::wasRecomputed(32, 260, 200, 16));
    QVERIFY(ChatController::wasRecomputed(0, 260, 200, 16));
    // A prompt shorter than the baseline (regenerate) caps what can be reused.
    QVERIFY(!ChatController::wasRecomputed(48, 60, 200, 16));
}

void TestWorkbenchWindow::panelsBuild() {
    for (const char* name : {"modelDock", "servingDock", "loadDock", "plotsDock", "rooflineDock", "kvDock", "deviceDock"}) {
        QDockWidget* d = mWindow->dock(QLatin1String(name));
        QVERIFY2(d && d->widget(), name);
        QVERIFY2(d->isVisible(), name);
    }
    QVERIFY(mWindow->servingPanel() && mWindow->loadPanel() && mWindow->modelPanel() && mWindow->plotsPanel());
    QVERIFY(child<QListView>("conversationView"));
    QCOMPARE(mWindow->conversations()->count(), 1);
    QVERIFY(!mWindow->banner()->isVisible());
    auto* source = child<QComboBox>("modelSource");
    QVERIFY(source->findData(QStringLiteral("synthetic:smollm2-135m")) >= 0);
    QCOMPARE(child<QComboBox>("backend")->itemText(0), QStringLiteral("cpu"));
    QCOMPARE(child<QLabel>("dtype")->text(), QStringLiteral("dtype fp32"));
    auto* scenario = child<QComboBox>("scenario");
    for (const char* n : {"chat", "summarize", "write", "idle-return", "ramp"}) QVERIFY(scenario->findText(QLatin1String(n)) >= 0);
    QVERIFY(!child<QPushButton>("loadStart")->isEnabled());   // no model yet
    QVERIFY(!mWindow->grab().isNull());
}

void TestWorkbenchWindow::typeInto(QAbstractSpinBox* box, const QString& text) {
    box->selectAll();
    QTest::keyClicks(box, text);
    QTest::keyClick(box, Qt::Key_Return);
}

void TestWorkbenchWindow::servingControlsApply() {
    QVERIFY(loadDefaultModel());
    // kv_blocks "auto" stays the choice; the engine resolved it and the panel shows the pool.
    QCOMPARE(mWindow->serving()->config().kv_blocks, 0);
    QCOMPARE(engineConfig().kv_blocks, 0);
    QVERIFY(mWindow->bridge()->model().kvBlocks > 0);
    QCOMPARE(child<QSpinBox>("kv_blocks")->text(), QStringLiteral("auto (%1)").arg(mWindow->bridge()->model().kvBlocks));
    QCOMPARE(engineConfig().max_num_seqs, 16);
    child<QSpinBox>("max_num_seqs")->setValue(8);
    QCOMPARE(engineConfig().max_num_seqs, 8);
    auto* policy = child<QComboBox>("policy");
    policy->setCurrentIndex(policy->findData(QStringLiteral("priority")));
    QCOMPARE(engineConfig().policy, rl::schedule_policy::priority);
    child<QCheckBox>("prefix_caching")->setChecked(false);
    QVERIFY(!engineConfig().prefix_caching);
    child<QSpinBox>("max_waiting")->setValue(7);
    QCOMPARE(engineConfig().max_waiting, 7);
    QCOMPARE(mWindow->settings()->serving().max_num_seqs, 8);   // saved as it changes
    QVERIFY(!mWindow->servingPanel()->reasonLabel(QStringLiteral("max_num_seqs"))->isVisible());

    // The load generator runs against the same engine and counts.
    QVERIFY(child<QPushButton>("loadStart")->isEnabled());
    rl::scenario sc = rl::scenario_preset("chat");
    sc.users = 2;
    sc.output_tokens = 4;
    sc.prompt_tokens = 8;
    sc.think_mean_s = 0.05;
    mWindow->loadPanel()->setScenario(sc);
    QTest::mouseClick(child<QPushButton>("loadStart"), Qt::LeftButton);
    QVERIFY(mWindow->bridge()->isLoadGeneratorRunning());
    QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>("loadFinished")->text().toInt() > 0, 30000);
    QTest::mouseClick(child<QPushButton>("loadStop"), Qt::LeftButton);
    QVERIFY(!mWindow->bridge()->isLoadGeneratorRunning());
}

void TestWorkbenchWindow::invalidValueRefused() {
    QVERIFY(loadDefaultModel());
    const rl::serving_config before = engineConfig();
    QSignalSpy refused(mWindow->serving(), &ServingController::refused);
    child<QSpinBox>("max_num_batched_tokens")->setValue(4);   // < max_num_seqs (16)
    QCOMPARE(refused.count(), 1);
    QCOMPARE(refused.at(0).at(0).toString(), QStringLiteral("max_num_batched_tokens"));
    QLabel* reason = mWindow->servingPanel()->reasonLabel(QStringLiteral("max_num_batched_tokens"));
    QVERIFY(reason->isVisible());
    QVERIFY2(reason->text().contains(QStringLiteral("at least max_num_seqs")), qPrintable(reason->text()));
    QCOMPARE(engineConfig().max_num_batched_tokens, before.max_num_batched_tokens);
    QCOMPARE(mWindow->settings()->serving().max_num_batched_tokens, before.max_num_batched_tokens);

    // 0 is below the control's range (the table's [1, 4096]): typed, it is refused by name.
    typeInto(child<QSpinBox>("max_num_seqs"), QStringLiteral("0"));
    QCOMPARE(refused.count(), 2);
    QCOMPARE(refused.at(1).at(0).toString(), QStringLiteral("max_num_seqs"));
    QVERIFY(mWindow->servingPanel()->reasonLabel(QStringLiteral("max_num_seqs"))->isVisible());
    QVERIFY(!reason->isVisible());
    QCOMPARE(engineConfig().max_num_seqs, before.max_num_seqs);
    QCOMPARE(child<QSpinBox>("max_num_seqs")->value(), before.max_num_seqs);
    // A good value clears the refusal.
    child<QSpinBox>("max_num_seqs")->setValue(4);
    QCOMPARE(engineConfig().max_num_seqs, 4);
    QVERIFY(!reason->isVisible());
    QVERIFY(!mWindow->servingPanel()->reasonLabel(QStringLiteral("max_num_seqs"))->isVisible());
}

void TestWorkbenchWindow::poolChangeNeedsRestart() {
    QVERIFY(loadDefaultModel());
    QSignalSpy needed(mWindow->serving(), &ServingController::poolRestartNeeded);
    auto* bs = child<QComboBox>("block_size");
    bs->setCurrentIndex(bs->findData(32));
    QCOMPARE(needed.count(), 1);
    QVERIFY(mWindow->serving()->restartPending());
    QVERIFY(child<QLabel>("restartNote")->isVisible());
    QCOMPARE(engineConfig().block_size, 16);   // not live
    QCOMPARE(bs->currentData().toInt(), 32);   // the panel keeps showing the wanted shape

    QSignalSpy loaded(mWindow->bridge(), &EngineBridge::loaded);
    QVERIFY(mWindow->serving()->restartPool());   // what "Restart pool…" does once confirmed
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
    QCOMPARE(engineConfig().block_size, 32);
    QVERIFY(!mWindow->serving()->restartPending());
    QVERIFY(!child<QLabel>("restartNote")->isVisible());
    QCOMPARE(mWindow->settings()->serving().block_size, 32);

    // gpu_memory_utilization sizes the auto pool: a pool knob too (the table says so), so it
    // waits for a restart like the block size; Discard puts the panel back to what is in force.
    auto* mem = child<QDoubleSpinBox>("gpu_memory_utilization");
    mem->setValue(0.5);
    QCOMPARE(needed.count(), 3);
    QVERIFY(mWindow->serving()->restartPending());
    QCOMPARE(mWindow->serving()->wanted().gpu_memory_utilization, 0.5);
    QCOMPARE(engineConfig().gpu_memory_utilization, rl::serving_config{}.gpu_memory_utilization);
    child<QSpinBox>("max_num_seqs")->setValue(6);   // the rest still applies live meanwhile
    QCOMPARE(engineConfig().max_num_seqs, 6);
    QVERIFY(mWindow->serving()->restartPending());
    QCOMPARE(mem->value(), 0.5);
    mWindow->serving()->discardPoolChange();
    QVERIFY(!mWindow->serving()->restartPending());
    QCOMPARE(mem->value(), rl::serving_config{}.gpu_memory_utilization);
    QCOMPARE(child<QSpinBox>("max_num_seqs")->value(), 6);
}

void TestWorkbenchWindow::loadsTakeTheOwnersConfig() {
    // Without a model every knob applies at once to the controller, the one owner; a load from
    // the model panel then runs with it, and the engine and the owner agree knob by knob.
    rl::serving_config c = mWindow->serving()->config();
    c.max_num_seqs = 5;
    c.block_size = 32;
    c.gpu_memory_utilization = 0.6;
    QCOMPARE(int(mWindow->serving()->change(c)), int(ServingController::Result::Applied));
    QVERIFY(!mWindow->serving()->restartPending());
    QCOMPARE(mWindow->settings()->serving().block_size, 32);
    QSignalSpy loaded(mWindow->bridge(), &EngineBridge::loaded);
    emit mWindow->modelPanel()->loadRequested(QStringLiteral(RL_MODEL_PATH), QStringLiteral("cpu"));
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
    for (const rl::knob_info& k : rl::serving_knobs()) {
        QCOMPARE(k.get(engineConfig()), k.get(c));
        QCOMPARE(k.get(mWindow->serving()->config()), k.get(c));
    }
    QCOMPARE(mWindow->bridge()->model().blockSize, 32);
    QCOMPARE(mWindow->bridge()->source().modelPath, QStringLiteral(RL_MODEL_PATH));
}

void TestWorkbenchWindow::chatConversations() {
    QVERIFY(loadDefaultModel());
    ChatController* chat = mWindow->chat();
    QSignalSpy finished(chat, &ChatController::replyFinished);
    QVERIFY(mWindow->sendPrompt(QStringLiteral("What is the capital of France?")));
    ConversationModel* first = mWindow->conversation();
    QTRY_VERIFY_WITH_TIMEOUT(!first->message(1).text.isEmpty(), 60000);   // streams
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const ReplyStats s = finished.at(0).at(0).value<ReplyStats>();
    QVERIFY(s.generatedTokens > 0 && s.ttftMs > 0);
    TranscriptView* view = mWindow->chatPanel()->transcript();
    view->flush();
    QVERIFY(view->toPlainText().contains(first->message(1).text.trimmed()));
    QVERIFY(view->toPlainText().contains(QStringLiteral("TTFT")));
    QVERIFY(view->toPlainText().contains(QStringLiteral("prompt tokens cached")));
    QVERIFY(mWindow->conversations()->at(0).title.startsWith(QStringLiteral("What is the capital")));

    // Ctrl+N: a second, empty conversation becomes current; the first keeps its history.
    QTest::keyClick(mWindow, Qt::Key_N, Qt::ControlModifier);
    QCOMPARE(mWindow->conversations()->count(), 2);
    QVERIFY(mWindow->conversation() != first);
    QCOMPARE(mWindow->conversation()->count(), 0);
    QVERIFY(view->toPlainText().trimmed().isEmpty());
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Name a color.")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QCOMPARE(mWindow->conversation()->count(), 2);
    QCOMPARE(first->count(), 2);

    // Back to the first: regenerate drops and replaces its last reply.
    mWindow->conversations()->setCurrent(0);
    QCOMPARE(mWindow->conversation(), first);
    QVERIFY(chat->regenerate());
    QCOMPARE(first->count(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, 60000);
    QCOMPARE(first->message(1).state, State::Complete);

    // Edit-and-resend: the tail after the edited message goes, the new text is sent.
    QVERIFY(mWindow->sendPrompt(QStringLiteral("And of Italy?")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 4, 60000);
    QCOMPARE(first->count(), 4);
    mWindow->chatPanel()->beginEdit(0);
    QVERIFY(mWindow->chatPanel()->isEditing());
    QCOMPARE(mWindow->chatPanel()->inputText(), QStringLiteral("What is the capital of France?"));
    mWindow->chatPanel()->setInputText(QStringLiteral("What is the capital of Spain?"));
    QTest::keyClick(mWindow->chatPanel()->input(), Qt::Key_Return);
    QCOMPARE(first->count(), 2);
    QCOMPARE(first->message(0).text, QStringLiteral("What is the capital of Spain?"));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 5, 60000);

    // Delete the second conversation.
    mWindow->chat()->deleteConversation(1);
    QCOMPARE(mWindow->conversations()->count(), 1);
}

void TestWorkbenchWindow::rejectedSaysAtCapacity() {
    QVERIFY(loadDefaultModel());
    // Admission control with no room to wait: the person's request is turned away.
    rl::serving_config c = mWindow->serving()->config();
    c.max_waiting = 0;
    QCOMPARE(int(mWindow->serving()->change(c)), int(ServingController::Result::Applied));
    QSignalSpy finished(mWindow->chat(), &ChatController::replyFinished);
    QVERIFY(mWindow->sendPrompt(QStringLiteral("Hello?")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    const ReplyStats s = finished.at(0).at(0).value<ReplyStats>();
    if (!s.rejected()) QSKIP("this engine admits a request when max_waiting is 0");
    QCOMPARE(mWindow->conversation()->message(1).state, State::Failed);
    mWindow->chatPanel()->transcript()->flush();
    QVERIFY2(mWindow->chatPanel()->transcript()->toPlainText().contains(QStringLiteral("At capacity: ")),
             qPrintable(mWindow->chatPanel()->transcript()->toPlainText()));
}

void TestWorkbenchWindow::conversationsAndSettingsPersist() {
    ConversationStore* store = mWindow->conversations();
    store->at(0).model->appendUser(QStringLiteral("first question"));
    store->at(0).model->beginAssistant();
    store->at(0).model->appendText(1, QStringLiteral("half a repl"));   // still streaming when "killed"
    const int second = store->create();
    store->rename(second, QStringLiteral("Benchmarks"));
    store->at(second).model->appendUser(QStringLiteral("second question"));
    store->setCurrent(second);
    rl::serving_config c = mWindow->serving()->config();
    c.max_num_seqs = 5;
    c.block_size = 64;
    c.policy = rl::schedule_policy::priority;
    QCOMPARE(int(mWindow->serving()->change(c)), int(ServingController::Result::Applied));   // no model: stored
    rl::scenario sc = rl::scenario_preset("write");
    sc.users = 3;
    mWindow->loadPanel()->setScenario(sc);
    QVERIFY(mWindow->startScenario().contains(QStringLiteral("no model")));   // saves it, cannot start
    mWindow->settings()->savePreset(QStringLiteral("tiny"), c);
    mWindow->dock(QStringLiteral("rooflineDock"))->hide();

    newWindow();   // a second window over the same directory
    store = mWindow->conversations();
    QCOMPARE(store->count(), 2);
    QCOMPARE(store->current(), 1);
    QCOMPARE(store->at(1).title, QStringLiteral("Benchmarks"));
    QCOMPARE(mWindow->conversation()->message(0).text, QStringLiteral("second question"));
    QCOMPARE(store->at(0).model->count(), 2);
    QCOMPARE(store->at(0).model->message(1).text, QStringLiteral("half a repl"));
    QCOMPARE(store->at(0).model->message(1).state, State::Cancelled);
    QCOMPARE(mWindow->serving()->config().max_num_seqs, 5);
    QCOMPARE(mWindow->serving()->config().block_size, 64);
    QCOMPARE(child<QSpinBox>("max_num_seqs")->value(), 5);
    QCOMPARE(child<QComboBox>("policy")->currentData().toString(), QStringLiteral("priority"));
    QCOMPARE(mWindow->loadPanel()->scenario().name, std::string("write"));
    QCOMPARE(mWindow->loadPanel()->scenario().users, 3);
    QCOMPARE(mWindow->settings()->presetNames(), QStringList{QStringLiteral("tiny")});
    QVERIFY(!mWindow->dock(QStringLiteral("rooflineDock"))->isVisible());   // dock layout remembered
    QVERIFY(mWindow->dock(QStringLiteral("plotsDock"))->isVisible());
    QVERIFY(!mWindow->banner()->isVisible());
}

void TestWorkbenchWindow::corruptSettingsSetAside() {
    delete mWindow;
    mWindow = nullptr;
    const QString settings = mDir->filePath(QStringLiteral("settings.json"));
    QFile::remove(settings);
    {
        QFile f(settings);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"serving\": {\"max_num_seqs\": 3,");   // truncated mid-write
    }
    newWindow();
    QVERIFY(mWindow->banner()->isVisible());
    QCOMPARE(mWindow->banner()->kind(), MessageBanner::Kind::Error);
    QVERIFY2(mWindow->banner()->text().contains(QStringLiteral("settings.json.bad")), qPrintable(mWindow->banner()->text()));
    QFile bad(settings + QStringLiteral(".bad"));
    QVERIFY(bad.open(QIODevice::ReadOnly));
    QCOMPARE(bad.readAll(), QByteArray("{\"serving\": {\"max_num_seqs\": 3,"));
    QCOMPARE(mWindow->serving()->config().max_num_seqs, rl::serving_config{}.max_num_seqs);   // defaults

    // Saving now writes a fresh file and leaves the .bad one alone.
    QVERIFY(mWindow->settings()->saveNow().isEmpty());
    QVERIFY(QFile::exists(settings));
    QVERIFY(QFile::exists(settings + QStringLiteral(".bad")));
}

void TestWorkbenchWindow::sessionRoundTrip() {
    ConversationStore* store = mWindow->conversations();
    store->at(0).model->appendUser(QStringLiteral("session question"));
    rl::serving_config c = mWindow->serving()->config();
    c.max_queue_ms = 250;
    mWindow->serving()->change(c);
    const QString path = mDir->filePath(QStringLiteral("run.session.json"));
    QString err;
    QVERIFY2(mWindow->saveSession(path, &err), qPrintable(err));

    QTemporaryDir other;   // another machine, so to speak
    qputenv("RIDGELINE_DATA_DIR", other.path().toLocal8Bit());
    newWindow();
    QCOMPARE(mWindow->conversations()->count(), 1);
    QVERIFY2(mWindow->openSession(path, &err), qPrintable(err));
    QCOMPARE(mWindow->conversations()->count(), 2);
    QVERIFY(mWindow->conversations()->at(1).title.startsWith(QStringLiteral("[run.session]")));
    QCOMPARE(mWindow->conversation()->message(0).text, QStringLiteral("session question"));
    QCOMPARE(mWindow->serving()->config().max_queue_ms, 250.0);
    QVERIFY(!mWindow->openSession(mDir->filePath(QStringLiteral("missing.json")), &err));
    delete mWindow;   // before `other` goes
    mWindow = nullptr;
}

void TestWorkbenchWindow::screenshotMode() {
    const QString exe = QCoreApplication::applicationDirPath() + QStringLiteral("/../app/ridgeline");
    if (!QFile::exists(exe)) QSKIP("the ridgeline binary is not built next to the tests");
    delete mWindow;   // free the cores for the child
    mWindow = nullptr;
    const QString png = mDir->filePath(QStringLiteral("shot.png"));
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("RIDGELINE_DATA_DIR"), mDir->filePath(QStringLiteral("shotdata")));
    p.setProcessEnvironment(env);
    p.start(exe, {QStringLiteral("--model"), QStringLiteral(RL_MODEL_PATH), QStringLiteral("--screenshot"), png,
                  QStringLiteral("--prompt"), QStringLiteral("Say hi."), QStringLiteral("--max-tokens"),
                  QStringLiteral("8"), QStringLiteral("--size"), QStringLiteral("1800x1100")});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    QImage img(png);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), QSize(1800, 1100));
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 7)
        for (int x = 0; x < img.width(); x += 7) colours.insert(img.pixel(x, y));
    QVERIFY2(colours.size() > 50, qPrintable(QString::number(colours.size())));

    // A model that cannot be loaded: exit 2 with the reason on stderr.
    p.start(exe, {QStringLiteral("--model"), QStringLiteral("/nonexistent/model.gguf"), QStringLiteral("--screenshot"),
                  mDir->filePath(QStringLiteral("no.png"))});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 2);
    QVERIFY(p.readAllStandardError().contains("could not load the model"));
}

QTEST_MAIN(TestWorkbenchWindow)
#include "test_workbench_window.moc"
