// ridgeline: the Qt workbench window. Opens the model given by --model, else $RIDGELINE_MODEL, else
// the one used last time (settings), else the default model (SmolLM2-135M-Instruct.Q4_1.gguf) from
// the checkout's models/ (only when run from its build tree) or from the user's data dir
// ($XDG_DATA_HOME/ridgeline/models). With none of these, FirstRunDialog offers to download it
// (lib/ridgeline/fetch-model), to open a file or to start on a synthetic model (ModelLocator.h).
//   ridgeline [--model PATH] [--backend cpu|cuda] [--threads N] [--max-tokens N]
//   ridgeline --screenshot FILE.png [--prompt TEXT] [--scenario NAME] [--after SECONDS] [--size WxH]
//     loads the default model (not the saved one), optionally starts the scenario's virtual users,
//     sends the prompt, waits --after seconds (default: until the reply finishes), saves a grab of
//     the whole window and exits. Its data (conversations, settings) live in a temporary directory
//     unless $RIDGELINE_DATA_DIR is set, so screenshots never touch your history. With no model
//     found it saves a grab of the first-run dialog instead and exits 2.
// --help and --version need no display. Exit codes (docs/packaging.md): 0 ok, 1 runtime failure
// (reply failed, PNG not written, timeout), 2 bad arguments, or (--screenshot only) a model that
// cannot be loaded or none found; the window itself reports load errors and keeps going.
#include "ChatController.h"
#include "ChatPanel.h"
#include "EngineBridge.h"
#include "FirstRunDialog.h"
#include "MainWindow.h"
#include "ModelLocator.h"
#include "TranscriptView.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <memory>

#ifndef RL_DEFAULT_MODEL
#define RL_DEFAULT_MODEL ""
#endif
#ifndef RL_SOURCE_FETCH_SCRIPT
#define RL_SOURCE_FETCH_SCRIPT ""
#endif
#ifndef RL_BUILD_APP_DIR
#define RL_BUILD_APP_DIR ""
#endif

namespace {

constexpr int kScreenshotTimeoutMs = 300'000;

void fail(const QString& message) {
    std::fprintf(stderr, "ridgeline: %s\n", qPrintable(message));
}

bool isFile(const QString& path) { return QFileInfo(path).isFile(); }

/// True when this binary is the one in its build tree (not an installed copy): only then may it
/// use the checkout's models/ and packaging/fetch-model.
bool runFromBuildTree() {
    const QString built = QFileInfo(QStringLiteral(RL_BUILD_APP_DIR)).canonicalFilePath();
    return !built.isEmpty() && QFileInfo(QCoreApplication::applicationDirPath()).canonicalFilePath() == built;
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
    // Everything about the arguments is decided before QApplication exists, so --help, --version
    // and usage errors (exit 2) work without a display (over ssh, in CI). Qt's own options
    // (-platform, -style) are not accepted here: use QT_QPA_PLATFORM and QT_STYLE_OVERRIDE.
    QStringList rawArgs;
    for (int i = 0; i < argc; ++i) rawArgs << QString::fromLocal8Bit(argv[i]);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Ridgeline: a desktop LLM inference workbench."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOpt(
        {QStringLiteral("m"), QStringLiteral("model")},
        QStringLiteral("GGUF model to open, or synthetic:NAME (default: $RIDGELINE_MODEL, else the one used "
                       "last time, else %1 in %2; when there is none, a dialog offers to download it).")
            .arg(QLatin1String(ModelLocator::kDefaultModelFile), ModelLocator::userModelDir()),
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
    if (!parser.parse(rawArgs)) {
        fail(parser.errorText() + QStringLiteral(" (try --help)"));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help")) || parser.isSet(QStringLiteral("help-all")) ||
        parser.isSet(QStringLiteral("version"))) {
        QCoreApplication info(argc, argv);   // no GUI: prints and exits 0
        QCoreApplication::setApplicationName(QStringLiteral("ridgeline"));
        QCoreApplication::setApplicationVersion(QStringLiteral(RL_VERSION));
        if (parser.isSet(QStringLiteral("version"))) parser.showVersion();
        parser.showHelp(0);
    }

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
    if (engine.backend != QLatin1String("auto") && engine.backend != QLatin1String("cpu") &&
        engine.backend != QLatin1String("cuda")) {
        fail(QStringLiteral("--backend takes auto, cpu or cuda (try --help)"));
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
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("ridgeline"));
    QApplication::setApplicationDisplayName(QStringLiteral("Ridgeline"));
    QApplication::setApplicationVersion(QStringLiteral(RL_VERSION));
    QApplication::setOrganizationName(QStringLiteral("Ridgeline"));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("ridgeline")));

    // Screenshots run on a throwaway data directory unless the caller chose one.
    std::unique_ptr<QTemporaryDir> scratch;
    if (shot && qEnvironmentVariableIsEmpty("RIDGELINE_DATA_DIR")) {
        scratch = std::make_unique<QTemporaryDir>();
        qputenv("RIDGELINE_DATA_DIR", scratch->path().toLocal8Bit());
    }

    MainWindow window;
    window.setGenerationSettings(gen);
    const EngineSettings saved = window.savedEngineSettings(engine);
    const bool fromBuildTree = runFromBuildTree();
    ModelLocator::Candidates candidates;
    candidates.argument = parser.value(modelOpt);
    candidates.environment = qEnvironmentVariable("RIDGELINE_MODEL");
    if (!shot) candidates.saved = saved.modelPath;
    if (fromBuildTree) candidates.sourceDefault = QStringLiteral(RL_DEFAULT_MODEL);
    candidates.userDefault = ModelLocator::userDefaultModel();
    const ModelLocator::Choice choice = ModelLocator::choose(candidates, isFile);
    engine.modelPath = choice.path;
    engine.serving = saved.serving;
    if (!parser.isSet(backendOpt) && !shot) engine.backend = saved.backend;

    if (!size.isEmpty()) window.resize(size);
    window.show();
    if (engine.modelPath.isEmpty()) {
        const QString script = ModelLocator::fetchScript(
            QCoreApplication::applicationDirPath(), fromBuildTree ? QStringLiteral(RL_SOURCE_FETCH_SCRIPT) : QString(),
            isFile);
        FirstRunDialog first(choice.searched, script, ModelLocator::userModelDir(), &window);
        if (shot) {   // nobody to click: save what a first start shows, say what to do, exit 2
            first.show();
            QCoreApplication::processEvents();
            if (!first.grab().save(o.file, "PNG")) {
                fail(QStringLiteral("no model found, and could not write %1").arg(o.file));
                return 1;
            }
            fail(QStringLiteral("no model found (looked in %1); saved the first-run dialog to %2. Download the "
                                "default model with %3, or pass --model PATH|synthetic:NAME")
                     .arg(choice.searched.join(QStringLiteral(", ")), QFileInfo(o.file).absoluteFilePath(),
                          script.isEmpty() ? QStringLiteral("fetch-model") : script));
            return 2;
        }
        if (first.exec() == QDialog::Accepted) engine.modelPath = first.chosenModel();
        if (engine.modelPath.isEmpty()) return app.exec();   // "Not now": the window, no model
    }
    if (shot) runScreenshot(window, o);
    window.loadModel(engine);
    return app.exec();
}
