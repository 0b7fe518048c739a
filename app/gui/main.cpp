// ridgeline: the Qt workbench window. Opens the model given by --model, else $RIDGELINE_MODEL, else
// the one used last time (settings), else the build's default (RL_DEFAULT_MODEL).
//   ridgeline [--model PATH] [--backend cpu|cuda] [--threads N] [--max-tokens N]
//   ridgeline --screenshot FILE.png [--prompt TEXT] [--scenario NAME] [--after SECONDS] [--size WxH]
//     loads the default model (not the saved one), optionally starts the scenario's virtual users,
//     sends the prompt, waits --after seconds (default: until the reply finishes), saves a grab of
//     the whole window and exits. Its data (conversations, settings) live in a temporary directory
//     unless $RIDGELINE_DATA_DIR is set, so screenshots never touch your history.
// Exit codes: 0 ok, 1 runtime failure (reply failed, PNG not written, timeout), 2 bad arguments
// or a model that cannot be loaded (--screenshot only; the window itself reports and keeps going).
#include "ChatController.h"
#include "ChatPanel.h"
#include "EngineBridge.h"
#include "MainWindow.h"
#include "TranscriptView.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <memory>

#ifndef RL_DEFAULT_MODEL
#define RL_DEFAULT_MODEL ""
#endif

namespace {

constexpr int kScreenshotTimeoutMs = 300'000;

void fail(const QString& message) {
    std::fprintf(stderr, "ridgeline: %s\n", qPrintable(message));
}

struct ShotOptions {
    QString file;
    QString prompt;
    QString scenario;     // "" = no virtual users
    double afterS = -1;   // < 0: until the reply finishes
};

void grabAndExit(MainWindow& window, const QString& file) {
    window.chatPanel()->transcript()->flush();
    if (!window.grab().save(file, "PNG")) {
        fail(QStringLiteral("could not write %1").arg(file));
        QCoreApplication::exit(1);
        return;
    }
    std::printf("ridgeline: saved %s\n", qPrintable(QFileInfo(file).absoluteFilePath()));
    QCoreApplication::exit(0);
}

/// --screenshot: load, maybe start virtual users, send one prompt, wait, grab, save, quit.
void runScreenshot(MainWindow& window, const ShotOptions& o) {
    QObject::connect(window.bridge(), &EngineBridge::loadFailed, &window, [](const QString& msg) {
        fail(QStringLiteral("could not load the model: %1").arg(msg));
        QCoreApplication::exit(2);
    });
    QObject::connect(window.bridge(), &EngineBridge::loaded, &window, [&window, o] {
        if (!o.scenario.isEmpty()) {
            if (const QString err = window.startScenario(o.scenario); !err.isEmpty()) {
                fail(QStringLiteral("could not start scenario %1: %2").arg(o.scenario, err));
                QCoreApplication::exit(2);
                return;
            }
        }
        if (!window.sendPrompt(o.prompt)) {
            fail(QStringLiteral("could not send the prompt"));
            QCoreApplication::exit(1);
            return;
        }
        if (o.afterS >= 0)
            QTimer::singleShot(int(o.afterS * 1000), &window, [&window, o] { grabAndExit(window, o.file); });
    });
    if (o.afterS < 0) {
        QObject::connect(window.chat(), &ChatController::replyFinished, &window,
                         [&window, o](const ReplyStats& stats) {
            if (stats.failed()) {
                fail(QStringLiteral("the reply failed (%1): %2").arg(stats.finishReason, stats.error));
                QCoreApplication::exit(1);
                return;
            }
            // Let the transcript flush, plots replot and the status bar lay out before the grab.
            QTimer::singleShot(400, &window, [&window, o] { grabAndExit(window, o.file); });
        });
    }
    QTimer::singleShot(kScreenshotTimeoutMs, &window, [] {
        fail(QStringLiteral("timed out waiting for the reply"));
        QCoreApplication::exit(1);
    });
}

} // namespace

int main(int argc, char** argv) {
    // --help and --version must work without a display (over ssh, in CI): no window is shown.
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        if ((a == "--help" || a == "-h" || a == "--help-all" || a == "--version" || a == "-v") &&
            qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    }
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
    const QCommandLineOption backendOpt(QStringLiteral("backend"), QStringLiteral("auto, cpu or cuda (default auto: cuda when a GPU is usable)."),
                                        QStringLiteral("name"), QStringLiteral("auto"));
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
    const QCommandLineOption scenarioOpt(QStringLiteral("scenario"),
                                         QStringLiteral("--screenshot: start this scenario's virtual users "
                                                        "(chat, summarize, write, idle-return, ramp)."),
                                         QStringLiteral("name"));
    const QCommandLineOption afterOpt(QStringLiteral("after"),
                                      QStringLiteral("--screenshot: grab after this many seconds "
                                                     "(default: when the reply finishes)."),
                                      QStringLiteral("seconds"));
    const QCommandLineOption sizeOpt(QStringLiteral("size"), QStringLiteral("Window size (default 1800x1100)."),
                                     QStringLiteral("WxH"));
    parser.addOptions({modelOpt, backendOpt, threadsOpt, maxTokensOpt, shotOpt, promptOpt, scenarioOpt, afterOpt,
                       sizeOpt});
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
    QSize size;
    if (parser.isSet(sizeOpt)) {
        const auto m = QRegularExpression(QStringLiteral("^(\\d+)x(\\d+)$")).match(parser.value(sizeOpt));
        if (!m.hasMatch() || m.captured(1).toInt() < 320 || m.captured(2).toInt() < 240) {
            fail(QStringLiteral("--size takes WxH, at least 320x240 (try --help)"));
            return 2;
        }
        size = QSize(m.captured(1).toInt(), m.captured(2).toInt());
    }
    const bool shot = parser.isSet(shotOpt);
    ShotOptions o;
    if (shot) {
        o.file = parser.value(shotOpt);
        o.prompt = parser.value(promptOpt).trimmed();
        o.scenario = parser.value(scenarioOpt).trimmed();
        bool okAfter = true;
        if (parser.isSet(afterOpt)) o.afterS = parser.value(afterOpt).toDouble(&okAfter);
        if (o.prompt.isEmpty() || !okAfter || (parser.isSet(afterOpt) && o.afterS < 0)) {
            fail(QStringLiteral("--prompt must not be empty and --after takes seconds (try --help)"));
            return 2;
        }
        if (size.isEmpty()) size = QSize(1800, 1100);
    }
    // Screenshots run on a throwaway data directory unless the caller chose one.
    std::unique_ptr<QTemporaryDir> scratch;
    if (shot && qEnvironmentVariableIsEmpty("RIDGELINE_DATA_DIR")) {
        scratch = std::make_unique<QTemporaryDir>();
        qputenv("RIDGELINE_DATA_DIR", scratch->path().toLocal8Bit());
    }

    MainWindow window;
    window.setGenerationSettings(gen);
    engine.modelPath = parser.value(modelOpt);
    if (engine.modelPath.isEmpty()) engine.modelPath = qEnvironmentVariable("RIDGELINE_MODEL");
    const EngineSettings saved = window.savedEngineSettings(engine);
    if (engine.modelPath.isEmpty() && !shot && !saved.modelPath.isEmpty() &&
        (saved.modelPath.startsWith(QLatin1String("synthetic:")) || QFileInfo::exists(saved.modelPath)))
        engine.modelPath = saved.modelPath;
    if (engine.modelPath.isEmpty()) engine.modelPath = QStringLiteral(RL_DEFAULT_MODEL);
    engine.serving = saved.serving;
    if (!parser.isSet(backendOpt) && !shot) engine.backend = saved.backend;

    if (shot) runScreenshot(window, o);
    if (!size.isEmpty()) window.resize(size);
    window.show();
    window.loadModel(engine);
    return app.exec();
}
