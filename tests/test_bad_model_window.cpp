// test_bad_model_window: a hand-made bad GGUF (tests/support/tiny_gguf.h, attn_q of the wrong
// shape) loaded through the window's own model-loading path (MainWindow::loadModel ->
// EngineBridge's loader thread -> rl::engine::create): the banner shows the one-line reason
// naming the file and the tensor, nothing is loaded, and the window keeps working: it then
// loads synthetic:smollm2-135m (the error leaves the banner) and answers a chat message.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_bad_model_window   (label gui)
#include "rl_test.h"
#include "tiny_gguf.h"

#include "ChatController.h"
#include "ConversationModel.h"
#include "EngineBridge.h"
#include "MainWindow.h"
#include "MessageBanner.h"

#include <QSignalSpy>
#include <QTemporaryDir>

#include <memory>

class TestBadModelWindow : public QObject {
    Q_OBJECT
private slots:
    void init() {
        mDir = std::make_unique<QTemporaryDir>();
        QVERIFY(mDir->isValid());
        qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
        mWindow = new MainWindow;
        GenerationSettings g;
        g.maxTokens = 4;
        g.temperature = 0.f;
        mWindow->setGenerationSettings(g);
        mWindow->show();
        QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    }
    void cleanup() {
        delete mWindow;   // joins the loader and the engine thread
        mWindow = nullptr;
        mDir.reset();
    }

    void badModelInTheBannerThenTheWindowCarriesOn() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        tiny_gguf::tensor* q = f.find_tensor("blk.0.attn_q.weight");
        q->dims = {32, 16};
        q->data = tiny_gguf::f32_data(32 * 16, 5);
        const QString path = mDir->filePath(QStringLiteral("broken.gguf"));
        QVERIFY(tiny_gguf::write_file(path.toStdString(), f.serialize()));

        EngineSettings s;
        s.modelPath = path;
        s.backend = QStringLiteral("cpu");
        s.calibrate = false;
        QSignalSpy failed(mWindow->bridge(), &EngineBridge::loadFailed);
        mWindow->loadModel(s);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 60000);
        QVERIFY(mWindow->banner()->isVisible());
        QCOMPARE(mWindow->banner()->kind(), MessageBanner::Kind::Error);
        const QString text = mWindow->banner()->text();
        QVERIFY2(text.startsWith(QStringLiteral("Could not load the model: '") + path + QStringLiteral("'")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("tensor 'blk.0.attn_q.weight' has shape [32, 16], expected [32, 32]")),
                 qPrintable(text));
        QVERIFY2(!text.contains(QLatin1Char('\n')), qPrintable(text));
        QVERIFY(!mWindow->bridge()->isLoaded());
        QVERIFY(!mWindow->sendPrompt(QStringLiteral("hello")));   // nothing to talk to yet

        // The window keeps working: a good model loads, the banner goes, the chat answers.
        s.modelPath = QStringLiteral("synthetic:smollm2-135m");
        QSignalSpy loaded(mWindow->bridge(), &EngineBridge::loaded);
        mWindow->loadModel(s);
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count() + failed.count(), 2, 120000);
        QCOMPARE(loaded.count(), 1);
        // The error is gone; a synthetic model may leave a note (it has no chat template).
        auto noError = [this] {
            return !mWindow->banner()->isVisible() || mWindow->banner()->kind() != MessageBanner::Kind::Error;
        };
        QVERIFY2(noError(), qPrintable(mWindow->banner()->text()));
        QSignalSpy replied(mWindow->chat(), &ChatController::replyFinished);
        QVERIFY(mWindow->sendPrompt(QStringLiteral("hello")));
        QTRY_COMPARE_WITH_TIMEOUT(replied.count(), 1, 120000);
        QCOMPARE(mWindow->conversation()->count(), 2);   // the question and its answer
        QVERIFY2(noError(), qPrintable(mWindow->banner()->text()));
    }

private:
    MainWindow* mWindow = nullptr;
    std::unique_ptr<QTemporaryDir> mDir;
};

QTEST_MAIN(TestBadModelWindow)
#include "test_bad_model_window.moc"
