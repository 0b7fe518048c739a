// test_export_dialog: File ▸ Export as vLLM / SGLang / llama-server command… in the real window.
// With a known serving config in force (set through the ServingController, as the panel does)
// and a saved model path with a space, the action opens the dialog whose three read-only boxes
// hold the commands of interop/export_commands for that config; Copy puts the text on the
// clipboard; Save as script writes an executable /bin/sh file. With a (synthetic) model loaded on
// the CPU, llama-server's -c is the engine's resolved pool in tokens and -t its thread count.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_export_dialog   (label gui)
#include "rl_test.h"

#include "EngineBridge.h"
#include "ExportCommandDialog.h"
#include "MainWindow.h"
#include "ServingController.h"
#include "SettingsStore.h"

#include <QAction>
#include <QClipboard>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <memory>

using rl::export_target;

class TestExportDialog : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void showsCommandsOfConfigInForce();
    void copyAndSaveScript();
    void loadedEngineGivesPoolAndThreads();

private:
    ExportCommandDialog* openDialog();

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
    rl::serving_config mConfig;
};

void TestExportDialog::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    mWindow = new MainWindow;
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));

    // A model chosen earlier (no need to load it) and a config unlike the defaults.
    ModelSource e;
    e.modelPath = QStringLiteral("/data/my models/Tiny Chat.gguf");
    mWindow->settings()->setModelSource(e);
    mConfig = mWindow->serving()->config();
    mConfig.max_num_seqs = 6;
    mConfig.max_num_batched_tokens = 768;
    mConfig.prefix_caching = false;
    mConfig.policy = rl::schedule_policy::fcfs;
    QString why;
    QCOMPARE(int(mWindow->serving()->change(mConfig, &why)), int(ServingController::Result::Applied));
}

void TestExportDialog::cleanup() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

ExportCommandDialog* TestExportDialog::openDialog() {
    auto* action = mWindow->findChild<QAction*>(QStringLiteral("exportCommandsAction"));
    if (!action) return nullptr;
    action->trigger();
    auto* d = mWindow->findChild<ExportCommandDialog*>();
    if (d && !QTest::qWaitForWindowExposed(d)) return nullptr;
    return d;
}

void TestExportDialog::showsCommandsOfConfigInForce() {
    ExportCommandDialog* d = openDialog();
    QVERIFY(d);
    QVERIFY(d->isVisible());
    auto* vllm = d->findChild<QPlainTextEdit*>(QStringLiteral("vllmCommand"));
    auto* sglang = d->findChild<QPlainTextEdit*>(QStringLiteral("sglangCommand"));
    auto* llama = d->findChild<QPlainTextEdit*>(QStringLiteral("llamaServerCommand"));
    QVERIFY(vllm && sglang && llama);
    QVERIFY(vllm->isReadOnly() && sglang->isReadOnly() && llama->isReadOnly());

    const QString v = vllm->toPlainText();
    QVERIFY2(v.contains(QStringLiteral("vllm serve '/data/my models/Tiny Chat.gguf' \\\n")), qPrintable(v));
    QVERIFY(v.contains(QStringLiteral("--served-model-name 'Tiny Chat' \\\n")));
    QVERIFY(v.contains(QStringLiteral("--max-num-seqs 6 \\\n")));
    QVERIFY(v.contains(QStringLiteral("--max-num-batched-tokens 768 \\\n")));
    QVERIFY(v.contains(QStringLiteral("--no-enable-prefix-caching")));
    QVERIFY(v.contains(QStringLiteral("--scheduling-policy fcfs")));
    QVERIFY(v.contains(QStringLiteral("\n# --block-size: ")));   // the notes are shown too
    QVERIFY(!v.contains(QStringLiteral("--max-model-len")));     // no model loaded: no context limit known

    const QString s = sglang->toPlainText();
    QVERIFY(s.contains(QStringLiteral("--model-path '/data/my models/Tiny Chat.gguf'")));
    QVERIFY(s.contains(QStringLiteral("--max-running-requests 6 \\\n")));
    QVERIFY(s.contains(QStringLiteral("--chunked-prefill-size 768 \\\n")));
    QVERIFY(s.contains(QStringLiteral("--disable-radix-cache")));

    const QString l = llama->toPlainText();
    QVERIFY(l.contains(QStringLiteral("-np 6 \\\n")));
    QVERIFY(l.contains(QStringLiteral("-b 768 \\\n")));
    QVERIFY(l.contains(QStringLiteral("--no-cache-prompt")));

    // Exactly what the pure core produces for this config.
    const rl::export_input in =
        ExportCommandDialog::inputFor(mConfig, QStringLiteral("/data/my models/Tiny Chat.gguf"), 0);
    QCOMPARE(v, QString::fromStdString(rl::export_command(export_target::vllm, in).text()));
    QCOMPARE(l, QString::fromStdString(rl::export_command(export_target::llama_server, in).text()));
}

void TestExportDialog::copyAndSaveScript() {
    ExportCommandDialog* d = openDialog();
    QVERIFY(d);
    auto* copy = d->findChild<QPushButton*>(QStringLiteral("sglangCopy"));
    QVERIFY(copy);
    QGuiApplication::clipboard()->clear();
    copy->click();
    QCOMPARE(QGuiApplication::clipboard()->text(), d->commandText(export_target::sglang));

    const QString path = mDir->filePath(QStringLiteral("serve llama.sh"));
    QString err;
    QVERIFY2(d->saveScript(export_target::llama_server, path, &err), qPrintable(err));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString script = QString::fromUtf8(f.readAll());
    QVERIFY(script.startsWith(QStringLiteral("#!/bin/sh\n# llama-server")));
    QVERIFY(script.contains(QStringLiteral("\nexec llama-server \\\n  -m '/data/my models/Tiny Chat.gguf'")));
    QVERIFY(QFileInfo(path).isExecutable());
    QVERIFY(d->findChild<QPushButton*>(QStringLiteral("llamaServerSave")));
}

void TestExportDialog::loadedEngineGivesPoolAndThreads() {
    EngineSettings es;
    es.modelPath = QStringLiteral("synthetic:smollm2-135m");
    es.backend = QStringLiteral("cpu");
    es.threads = 2;
    es.calibrate = false;
    es.serving = mWindow->serving()->config();
    es.serving.kv_blocks = 0;   // automatic: only the loaded engine knows the pool's size
    QSignalSpy done(mWindow->bridge(), &EngineBridge::loaded);
    QSignalSpy failed(mWindow->bridge(), &EngineBridge::loadFailed);
    mWindow->loadModel(es);
    QVERIFY(QTest::qWaitFor([&] { return done.count() + failed.count() > 0; }, 60000));
    QCOMPARE(done.count(), 1);
    const ModelSummary& m = mWindow->bridge()->model();
    QVERIFY(m.kvBlocks > 0 && m.blockSize > 0);
    ExportCommandDialog* d = openDialog();
    QVERIFY(d);
    const QString l = d->commandText(export_target::llama_server);
    QVERIFY2(l.contains(QStringLiteral("\n  -c %1 \\\n").arg(m.kvBlocks * m.blockSize)), qPrintable(l));
    QVERIFY2(l.contains(QStringLiteral("\n  -t 2 \\\n")), qPrintable(l));
    QVERIFY2(l.contains(QStringLiteral("# -c: our KV pool, %1 blocks x %2 tokens").arg(m.kvBlocks).arg(m.blockSize)),
             qPrintable(l));
    QVERIFY(l.endsWith(QStringLiteral("  --metrics\n")));
}

QTEST_MAIN(TestExportDialog)
#include "test_export_dialog.moc"
