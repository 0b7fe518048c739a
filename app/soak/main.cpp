// ridgeline-soak: the long run (docs/reliability.md). Loads a model through the window's own
// Qt-Core parts, drives it with 64 virtual users rotating through the chat, idle-return and
// ramp scenarios and with a bounded API client, changes a serving knob every few minutes (one
// change restarts the KV pool), and writes a sample every 10 s to a CSV that dev/soak/analyze.py
// judges (memory slope, stuck, mismatched, failed).
//   ridgeline-soak --model PATH|synthetic:NAME [--backend cpu|cuda] [--duration S] [--csv FILE] [knobs]
#include "backend/host_info.h"
#include "SoakRun.h"

#include "options/command_line.h"

#include <QCoreApplication>
#include <QTemporaryDir>

int main(int argc, char** argv) {
    rl::limit_heap_arenas();  // before any thread: a long run's heap stays level (host_info.h)
    rl::engine_options eo;
    eo.serving.max_num_seqs = 64;   // a batch limit that 64 users can fill
    SoakOptions so;
    std::string csv = "soak.csv", settingsDir;
    rl::cmdline::program p("ridgeline-soak", "Long run: memory, stuck and lost requests under changing load",
                           RL_VERSION);
    CLI::App& root = p.root();
    rl::cmdline::add_engine_options(p, root, eo);
    rl::cmdline::add_number(root, "--duration", so.durationS, "Seconds to run", 10, 86400);
    rl::cmdline::add_number(root, "--sample-every", so.sampleEveryS, "Seconds between CSV rows", 1, 600);
    rl::cmdline::add_number(root, "--segment", so.segmentS, "Seconds per scenario (chat, idle-return, ramp in turn)",
                            5, 86400);
    rl::cmdline::add_number(root, "--first-knob", so.firstKnobS,
                            "Seconds to the first serving knob change (the pool restart)", 5, 86400);
    rl::cmdline::add_number(root, "--knob-every", so.knobEveryS, "Seconds between the later knob changes", 5, 86400);
    rl::cmdline::add_number(root, "--users", so.users, "Virtual users", 1, 4096);
    rl::cmdline::add_number(root, "--temperature", so.temperature, "The virtual users' sampling temperature", 0, 2);
    rl::cmdline::add_number(root, "--top-p", so.topP, "The virtual users' top_p", 0.01, 1);
    rl::cmdline::add_number(root, "--api-clients", so.apiClients, "API client threads (0: no API server)", 0, 64);
    rl::cmdline::add_text(root, "--csv", csv, "Write the samples to FILE")->type_name("FILE");
    rl::cmdline::add_text(root, "--settings-dir", settingsDir, "Settings folder (default: a fresh temporary one)")
        ->type_name("DIR");
    p.set_footer("Exit codes: 0 ok, 1 runtime failure, 2 bad arguments, 3 stuck, mismatched or failed requests");
    if (int code = p.parse(argc, argv); code != rl::cmdline::k_go_on) return code;

    QCoreApplication app(argc, argv);
    QTemporaryDir tmp;
    so.engine.modelPath = QString::fromStdString(eo.model_path);
    so.engine.backend = QString::fromStdString(eo.backend);
    so.engine.weights = QString::fromLatin1(rl::weight_storage_name(eo.weights));
    so.engine.threads = eo.threads;
    so.engine.serving = eo.serving;
    so.csvPath = QString::fromStdString(csv);
    so.settingsDir = settingsDir.empty() ? tmp.path() : QString::fromStdString(settingsDir);
    SoakRun run(so);
    int exitCode = 0;
    QObject::connect(&run, &SoakRun::finished, &app, [&](int code) {
        exitCode = code;
        app.quit();
    });
    QMetaObject::invokeMethod(&run, [&run] { run.start(); }, Qt::QueuedConnection);
    app.exec();
    return exitCode;
}
