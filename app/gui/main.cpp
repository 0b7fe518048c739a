// ridgeline: the Qt window. Opens the model given by --model, else $RIDGELINE_MODEL, else the
// build's default (RL_DEFAULT_MODEL), and chats with it.
//   ridgeline [--model PATH] [--backend cpu|cuda] [--threads N] [--max-tokens N]
//   ridgeline --screenshot FILE.png [--prompt TEXT]   one reply, grab the window, exit
// Exit codes: 0 ok, 1 runtime failure (reply failed, PNG not written, timeout), 2 bad arguments
// or a model that cannot be loaded (--screenshot only; the window itself reports and keeps going).
#include "ChatController.h"
#include "EngineBridge.h"
#include "MainWindow.h"
#include "TranscriptView.h"
#include "ChatPanel.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>

#ifndef RL_DEFAULT_MODEL
#define RL_DEFAULT_MODEL ""
#endif

namespace {

constexpr int kScreenshotTimeoutMs = 300'000;

void fail(const QString& message) {
    std::fprintf(stderr, "ridgeline: %s\n", qPrintable(message));
}

/// --screenshot: load, send one prompt, wait for the whole reply, grab, save, quit.
void runScreenshot(MainWindow& window, const QString& file, const QString& prompt) {
    QObject::connect(window.bridge(), &EngineBridge::loadFailed, &window, [](const QString& msg) {
        fail(QStringLiteral("could not load the model: %1").arg(msg));
        QCoreApplication::exit(2);
    });
    QObject::connect(window.bridge(), &EngineBridge::loaded, &window, [&window, prompt] {
        if (!window.sendPrompt(prompt)) {
            fail(QStringLiteral("could not send the prompt"));
            QCoreApplication::exit(1);
        }
    });
    QObject::connect(window.chat(), &ChatController::replyFinished, &window,
                     [&window, file](const ReplyStats& stats) {
        if (stats.failed()) {
            fail(QStringLiteral("the reply failed (%1): %2").arg(stats.finishReason, stats.error));
            QCoreApplication::exit(1);
            return;
        }
        // Let the transcript flush and the status bar lay out before the grab.
        QTimer::singleShot(150, &window, [&window, file] {
            window.chatPanel()->transcript()->flush();
            if (!window.grab().save(file, "PNG")) {
                fail(QStringLiteral("could not write %1").arg(file));
                QCoreApplication::exit(1);
                return;
            }
            std::printf("ridgeline: saved %s\n", qPrintable(QFileInfo(file).absoluteFilePath()));
            QCoreApplication::exit(0);
        });
    });
    QTimer::singleShot(kScreenshotTimeoutMs, &window, [] {
        fail(QStringLiteral("timed out waiting for the reply"));
        QCoreApplication::exit(1);
    });
}

} // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("ridgeline"));
    QApplication::setApplicationDisplayName(QStringLiteral("Ridgeline"));
    QApplication::setApplicationVersion(QStringLiteral(RL_VERSION));
    QApplication::setOrganizationName(QStringLiteral("Ridgeline"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Ridgeline: a desktop LLM inference workbench."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOpt(
        {QStringLiteral("m"), QStringLiteral("model")},
        QStringLiteral("GGUF model to open (default: $RIDGELINE_MODEL, else %1).").arg(RL_DEFAULT_MODEL),
        QStringLiteral("path"));
    const QCommandLineOption backendOpt(QStringLiteral("backend"), QStringLiteral("cpu or cuda (default cpu)."),
                                        QStringLiteral("name"), QStringLiteral("cpu"));
    const QCommandLineOption threadsOpt(QStringLiteral("threads"), QStringLiteral("CPU threads (default: all cores)."),
                                        QStringLiteral("n"), QStringLiteral("0"));
    const QCommandLineOption maxTokensOpt(QStringLiteral("max-tokens"),
                                          QStringLiteral("Longest reply in tokens (default 512)."),
                                          QStringLiteral("n"), QStringLiteral("512"));
    const QCommandLineOption shotOpt(QStringLiteral("screenshot"),
                                     QStringLiteral("Run one reply, save a PNG of the window to <file>, exit."),
                                     QStringLiteral("file"));
    const QCommandLineOption promptOpt(QStringLiteral("prompt"),
                                       QStringLiteral("The prompt for --screenshot."), QStringLiteral("text"),
                                       QStringLiteral("What is a KV cache? Answer in two sentences."));
    parser.addOptions({modelOpt, backendOpt, threadsOpt, maxTokensOpt, shotOpt, promptOpt});
    if (!parser.parse(QCoreApplication::arguments())) {
        fail(parser.errorText() + QStringLiteral(" (try --help)"));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help"))) parser.showHelp(0);
    if (parser.isSet(QStringLiteral("version"))) parser.showVersion();

    bool okThreads = false, okMax = false;
    EngineSettings engine;
    engine.backend = parser.value(backendOpt);
    engine.threads = parser.value(threadsOpt).toInt(&okThreads);
    GenerationSettings gen;
    gen.maxTokens = parser.value(maxTokensOpt).toInt(&okMax);
    if (!okThreads || engine.threads < 0 || !okMax || gen.maxTokens <= 0) {
        fail(QStringLiteral("--threads and --max-tokens take a non-negative number (try --help)"));
        return 2;
    }
    if (!parser.positionalArguments().isEmpty()) {
        fail(QStringLiteral("unexpected argument '%1' (try --help)").arg(parser.positionalArguments().first()));
        return 2;
    }
    engine.modelPath = parser.value(modelOpt);
    if (engine.modelPath.isEmpty()) engine.modelPath = qEnvironmentVariable("RIDGELINE_MODEL");
    if (engine.modelPath.isEmpty()) engine.modelPath = QStringLiteral(RL_DEFAULT_MODEL);

    MainWindow window;
    window.setGenerationSettings(gen);
    if (parser.isSet(shotOpt)) {
        const QString prompt = parser.value(promptOpt).trimmed();
        if (prompt.isEmpty()) {
            fail(QStringLiteral("--prompt is empty"));
            return 2;
        }
        runScreenshot(window, parser.value(shotOpt), prompt);
    }
    window.show();
    window.loadModel(engine);
    return app.exec();
}
