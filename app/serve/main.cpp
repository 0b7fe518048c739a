// ridgeline-serve: headless OpenAI-compatible server over one engine (docs/api.md).
//   ridgeline-serve --model PATH|synthetic:NAME [--backend auto|cpu|cuda] [--host ADDR] [--port N]
//                   [--api-key KEY] [--threads N] [--max-context N] [every serving knob]
//                   [--max-connections N] [--max-body-bytes N] [--timeout S] [--drain-timeout S]
//                   [--quiet]
// The options come from app/options (one parser for every program); --help lists them all.
// SIGINT/SIGTERM stop admitting requests and let running ones finish for up to --drain-timeout
// seconds, then cancel what is left (each stream ends with an error event and [DONE]); a second
// signal cancels at once.
#include "backend/host_info.h"
#include "server/api_server.h"

#include "common/engine_error.h"
#include "options/command_line.h"

#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

namespace {

constexpr const char* k_footer =
    "Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models[/ID], GET /health,\n"
    "           GET /metrics (Prometheus)\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 bad arguments, a model that cannot be loaded or a port\n"
    "            that cannot be bound";

struct serve_args {
    rl::engine_options engine;
    rl::serve_options server;
    bool quiet = false;
    serve_args() { engine.backend = "auto"; }   // a server takes the GPU when there is one
};

/// Fills `a` from the command line; returns k_go_on or the exit code.
int parse_arguments(int argc, char** argv, serve_args& a) {
    rl::cmdline::program p("ridgeline-serve", "Ridgeline's headless OpenAI-compatible server over one engine.",
                           RL_VERSION);
    CLI::App& app = p.root();
    rl::cmdline::add_engine_options(p, app, a.engine);
    rl::serve_options& so = a.server;
    rl::cmdline::add_text(app, "--host", so.host, "Address to listen on; 0.0.0.0 accepts other machines");
    rl::cmdline::add_number(app, "--port", so.port, "TCP port", 1, 65535);
    app.add_option("--allowed-host", so.allowed_hosts,
                   "A Host name the server also answers to (repeatable; '*' for any). Bound to loopback it "
                   "answers only to localhost and 127.0.0.1 otherwise, against DNS rebinding")
        ->type_name("NAME");
    rl::cmdline::add_text(app, "--api-key", so.api_key, "/v1/* then need 'Authorization: Bearer KEY' (401 otherwise)")
        ->type_name("KEY")
        ->check(CLI::Validator([](std::string& key) { return key.empty() ? "must not be empty" : ""; }, "", ""));
    rl::cmdline::add_number(app, "--max-connections", so.max_connections,
                            "Requests answered at once, beyond that 503; waiting sockets do not count "
                            "(0 = 2 * max-num-seqs + 4, at least 8)",
                            0, 1 << 16);
    rl::cmdline::add_number(app, "--max-body-bytes", so.max_body_bytes, "Larger request bodies get 413", 1024,
                            1 << 30);
    rl::cmdline::add_number(app, "--timeout", so.read_timeout_s,
                            "Seconds a client may take to send a whole request (else 408), or stay without "
                            "reading its answer before it is disconnected", 1, 1 << 30)
        ->type_name("S");
    rl::cmdline::add_number(app, "--drain-timeout", so.drain_timeout_s,
                            "On SIGTERM or SIGINT, seconds running requests may go on finishing (new ones get "
                            "503) before they are cancelled; a second signal cancels at once", 0, 3600)
        ->type_name("S");
    rl::cmdline::add_switch(app, "--quiet", a.quiet, "No access log on stderr");
    p.set_footer(k_footer);
    const int code = p.parse(argc, argv);
    so.write_timeout_s = so.read_timeout_s;   // one --timeout for both directions
    so.access_log = !a.quiet;
    return code;
}

} // namespace

int main(int argc, char** argv) {
    rl::limit_heap_arenas();  // before any thread: a long run's heap stays level (host_info.h)
    serve_args args;
    if (const int code = parse_arguments(argc, argv, args); code != rl::cmdline::k_go_on) return code;
    const rl::engine_options& eo = args.engine;
    const rl::serve_options& so = args.server;

    // Signals go to one thread that stops the server; block them before any thread starts.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGUSR1);   // our own wake-up for the signal thread at the end
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);   // a client gone mid-write is an error return, not a signal

    std::unique_ptr<rl::engine> eng;
    try {
        std::fprintf(stderr, "ridgeline-serve: loading %s...\n", eo.model_path.c_str());
        eng = rl::engine::create(eo);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-serve: %s\n", e.what());
        return 2;
    }
    try {
        rl::api_server server(*eng, rl::api_server::model_id_for(eo.model_path), so);
        std::string error;
        const int port = server.bind(error);
        if (port < 0) {
            std::fprintf(stderr, "ridgeline-serve: %s\n", error.c_str());
            return 2;
        }
        const rl::engine_info& info = eng->info();
        std::fprintf(stderr,
                     "ridgeline-serve: serving '%s' (%s, context %d, %d KV blocks) on http://%s:%d%s\n",
                     server.model_id().c_str(), info.backend.c_str(), info.context_length, info.kv_blocks,
                     so.host.c_str(), port, so.api_key.empty() ? "" : " (API key required)");
        if (so.api_key.empty() && so.host != "127.0.0.1" && so.host != "localhost" && so.host != "::1")
            std::fprintf(stderr, "ridgeline-serve: warning: listening beyond this machine without --api-key\n");
        std::thread drainer;
        std::thread signals([&] {
            int sig = 0;
            sigwait(&stopSignals, &sig);
            if (sig == SIGUSR1) return;
            std::fprintf(stderr, "ridgeline-serve: stopping (signal %d): new requests get 503, running ones have "
                                 "%d s to finish; signal again to stop now\n", sig, so.drain_timeout_s);
            drainer = std::thread([&] { server.drain_and_stop(so.drain_timeout_s); });
            sigwait(&stopSignals, &sig);
            if (sig == SIGUSR1) return;
            std::fprintf(stderr, "ridgeline-serve: stopping now (signal %d)\n", sig);
            server.stop();
        });
        server.run();
        pthread_kill(signals.native_handle(), SIGUSR1);
        signals.join();
        if (drainer.joinable()) drainer.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-serve: %s\n", e.what());
        return 1;
    }
    return 0;
}
