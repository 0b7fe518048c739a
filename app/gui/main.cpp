// ridgeline: the Qt workbench window. Opens the model given by --model, else $RIDGELINE_MODEL, else
// the one used last time (settings), else the default model (SmolLM2-135M-Instruct.Q4_1.gguf) from
// the checkout's models/ (only when run from its build tree) or from the user's data dir
// ($XDG_DATA_HOME/ridgeline/models). With none of these, FirstRunDialog offers to download it
// (lib/ridgeline/fetch-model), to open a file or to start on a synthetic model (ModelLocator.h).
//   ridgeline [--model PATH] [--backend auto|cpu|cuda] [--weights native|bf16|f32] [--threads N] [--max-tokens N] [Qt's options]
//   ridgeline [--size WxH] [--layout default|demo] (View ▸ Reset Layout / Demo Layout at start)
//   ridgeline --screenshot FILE.png [--prompt TEXT] [--scenario NAME] [--preset STORY] [--after SECONDS]
//             [--size WxH]
//     loads the default model (not the saved one), optionally starts the scenario's virtual users,
//     sends the prompt, waits --after seconds (default: until the reply finishes), saves a grab of
//     the whole window and exits. Its data (conversations, settings) live in a temporary directory
//     unless $RIDGELINE_DATA_DIR is set, so screenshots never touch your history. With no model
//     found it saves a grab of the first-run dialog instead and exits 2.
// Options are parsed with app/options (the parser every program shares) before QApplication
// exists, so --help, --version and usage errors need no display. Qt's own arguments (-platform,
// -style, ...; QtArguments.h) are left out of that parse and reach QApplication.
// Exit codes (docs/packaging.md): 0 ok, 1 runtime failure (reply failed, PNG not written,
// timeout), 2 bad arguments, or (--screenshot only) a model that cannot be loaded or none found;
// the window itself reports load errors and keeps going.
#include "backend/host_info.h"
#include "ChatController.h"
#include "ChatPanel.h"
#include "EngineBridge.h"
#include "FirstRunDialog.h"
#include "MainWindow.h"
#include "ModelLocator.h"
#include "QtArguments.h"
#include "StoryController.h"
#include "TranscriptView.h"
#include "WindowLayout.h"
#include "options/command_line.h"

#include <QApplication>
#include <QFileInfo>
#include <QIcon>
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
constexpr int kShotWidth = 1920, kShotHeight = 1080;   // --screenshot's window size unless --size

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
    QString preset;       // a story (runtime/stories.h); "" = none
    double afterS = -1;   // < 0: until the reply finishes
};

/// The window's command line as parsed; defaults are EngineSettings{}'s and GenerationSettings{}'s
/// except where said.
struct WindowArgs {
    std::string model;
    std::string backend = "auto";   // the window takes the GPU when there is one
    int threads = EngineSettings{}.threads;
    int maxTokens = GenerationSettings{}.maxTokens;
    std::string screenshot;
    std::string prompt = "What is a KV cache? Answer in two sentences.";
    std::string scenario;
    std::string preset;
    double afterS = -1;
    std::string size;               // "WxH"; "" = the window's own (kShotWidth x kShotHeight with --screenshot)
    std::string layout;             // "default" | "demo"; "" = the saved one
    bool backendGiven = false;
    rl::weight_storage weights = rl::weight_storage::automatic;
    bool weightsGiven = false;
    bool maxTokensGiven = false;
};

/// "900x600" as a size of at least 320x240; an empty size otherwise.
QSize parseSize(const std::string& text) {
    int w = 0, h = 0, used = 0;
    if (std::sscanf(text.c_str(), "%dx%d%n", &w, &h, &used) != 2 || used != int(text.size()) || w < 320 || h < 240)
        return {};
    return QSize(w, h);
}

/// Parses the window's options (Qt's own left out); returns k_go_on or the exit code.
int parseArguments(int argc, char** argv, WindowArgs& a) {
    namespace cmd = rl::cmdline;
    cmd::program p("ridgeline", "Ridgeline: a desktop LLM inference workbench.", RL_VERSION);
    CLI::App& app = p.root();
    app.set_version_flag("-v,--version", "ridgeline " RL_VERSION, "Print the version and exit");
    app.set_help_all_flag("--help-all", "Print this help, Qt's options included, and exit");
    cmd::add_model_option(app, a.model, false,
                          "GGUF model to open, or synthetic:NAME (default: $RIDGELINE_MODEL, else the one used last "
                          "time, else " + std::string(ModelLocator::kDefaultModelFile) + " in " +
                              ModelLocator::userModelDir().toStdString() +
                              "; when there is none, a dialog offers to download it)");
    CLI::Option* backend = cmd::add_backend_option(app, a.backend);
    CLI::Option* weights = cmd::add_weights_option(app, a.weights);
    cmd::add_threads_option(app, a.threads);
    CLI::Option* maxTokens = cmd::add_number(app, "--max-tokens", a.maxTokens,
                                              "Longest reply in tokens (default: the saved reply settings)", 1, 1 << 20);
    cmd::add_text(app, "--screenshot", a.screenshot, "Run one reply, save a PNG of the window to FILE, exit")
        ->type_name("FILE");
    cmd::add_text(app, "--prompt", a.prompt, "The prompt for --screenshot");
    cmd::add_text(app, "--scenario", a.scenario,
                  "--screenshot: start this scenario's virtual users (chat, summarize, write, idle-return, ramp)")
        ->type_name("NAME");
    cmd::add_choice(app, "--preset", a.preset, rl::story_names(),
                    "--screenshot: play this story (its knobs, a pool restart if needed, its users)");
    cmd::add_number(app, "--after", a.afterS, "--screenshot: grab after this many seconds", 0, 1e6,
                    "when the reply finishes")
        ->type_name("S");
    cmd::add_text(app, "--size", a.size, "Window size, at least 320x240",
                  std::to_string(kShotWidth) + "x" + std::to_string(kShotHeight) + " with --screenshot")
        ->type_name("WxH")
        ->check(CLI::Validator(
            [](std::string& text) { return parseSize(text).isEmpty() ? "takes WxH, at least 320x240" : ""; }, "", ""));
    cmd::add_text(app, "--layout", a.layout, "Dock arrangement to start with: default or demo (plots, chat, roofline)",
                  "the one saved, else default")
        ->type_name("NAME")
        ->check(CLI::IsMember({"default", "demo"}));
    p.add_check(app, [&a] {
        const bool shot = !a.screenshot.empty();
        return shot && QString::fromStdString(a.prompt).trimmed().isEmpty() ? "--prompt must not be empty" : "";
    });
    p.set_footer(QtArguments::helpLine());
    const std::vector<std::string> ours = QtArguments::withoutQt(argc, argv);
    const int code = p.parse(ours);
    a.backendGiven = backend->count() > 0;
    a.weightsGiven = weights->count() > 0;
    a.maxTokensGiven = maxTokens->count() > 0;
    return code;
}

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
    auto storyPlayed = std::make_shared<bool>(false);
    QObject::connect(window.bridge(), &EngineBridge::loaded, &window, [&window, o, storyPlayed] {
        if (!o.preset.isEmpty() && !*storyPlayed) {
            *storyPlayed = true;
            if (const QString err = window.stories()->play(o.preset); !err.isEmpty()) {
                fail(QStringLiteral("could not play preset %1: %2").arg(o.preset, err));
                QCoreApplication::exit(2);
                return;
            }
            if (window.stories()->starting()) return;   // a pool restart: go on at the next load
        }
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
    rl::limit_heap_arenas();  // before any thread: a long run's heap stays level (host_info.h)
    WindowArgs args;
    if (const int code = parseArguments(argc, argv, args); code != rl::cmdline::k_go_on) return code;
    EngineSettings engine;
    engine.backend = QString::fromStdString(args.backend);
    engine.weights = QString::fromLatin1(rl::weight_storage_name(args.weights));
    engine.threads = args.threads;
    QSize size = parseSize(args.size);
    const bool shot = !args.screenshot.empty();
    ShotOptions o;
    if (shot) {
        o.file = QString::fromStdString(args.screenshot);
        o.prompt = QString::fromStdString(args.prompt).trimmed();
        o.scenario = QString::fromStdString(args.scenario).trimmed();
        o.preset = QString::fromStdString(args.preset);
        o.afterS = args.afterS;
        if (size.isEmpty()) size = QSize(kShotWidth, kShotHeight);
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
    if (args.maxTokensGiven || shot) {   // over the current chat's reply settings and this run's new chats
        GenerationSettings gen = shot ? GenerationSettings() : window.generationSettings();
        gen.maxTokens = args.maxTokens;
        window.setGenerationSettings(gen);
    }
    const EngineSettings saved = window.savedEngineSettings(engine);
    const bool fromBuildTree = runFromBuildTree();
    ModelLocator::Candidates candidates;
    candidates.argument = QString::fromStdString(args.model);
    candidates.environment = qEnvironmentVariable("RIDGELINE_MODEL");
    if (!shot) candidates.saved = saved.modelPath;
    if (fromBuildTree) candidates.sourceDefault = QStringLiteral(RL_DEFAULT_MODEL);
    candidates.userDefault = ModelLocator::userDefaultModel();
    const ModelLocator::Choice choice = ModelLocator::choose(candidates, isFile);
    engine.modelPath = choice.path;
    engine.serving = saved.serving;
    if (!args.backendGiven && !shot) engine.backend = saved.backend;
    if (!args.weightsGiven && !shot) engine.weights = saved.weights;

    if (!size.isEmpty()) window.resize(size);
    if (args.layout == "demo") window.layoutKeeper()->applyDemo();
    else if (args.layout == "default") window.layoutKeeper()->applyDefault();
    window.show();
    // The window fits 1280x720; below what its docks need, Qt keeps it larger: say so rather
    // than write a PNG of another size without a word.
    if (!size.isEmpty() && window.size() != size)
        fail(QStringLiteral("the window needs at least %1x%2; it is %3x%4, not %5x%6")
                 .arg(window.minimumSizeHint().width()).arg(window.minimumSizeHint().height())
                 .arg(window.width()).arg(window.height()).arg(size.width()).arg(size.height()));
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
