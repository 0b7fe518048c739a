// ridgeline-serve: headless OpenAI-compatible server over one engine (docs/api.md).
//   ridgeline-serve --model PATH|synthetic:NAME [--backend cpu|cuda|auto] [--host 127.0.0.1]
//                   [--port 8080] [--api-key KEY] [--max-context N] [--max-num-seqs N]
//                   [--kv-blocks N] [--threads N] [--max-connections N] [--max-body-bytes N]
//                   [--timeout S] [--quiet]
// SIGINT/SIGTERM cancel the requests in flight and stop the server.
#include "server/api_server.h"

#include "common/engine_error.h"

#include <csignal>
#include <cstdio>
#include <map>
#include <pthread.h>
#include <set>
#include <thread>

namespace {

const char* kUsage =
    "usage: ridgeline-serve --model PATH|synthetic:NAME [options]\n"
    "  --backend cpu|cuda|auto   (default auto: cuda when this build has it and a GPU is usable)\n"
    "  --host ADDR               (default 127.0.0.1; give 0.0.0.0 to accept other machines)\n"
    "  --port N                  (default 8080)\n"
    "  --api-key KEY             /v1/* then need 'Authorization: Bearer KEY' (401 otherwise)\n"
    "  --max-context N           (default min(model context, 8192))\n"
    "  --max-num-seqs N          batch-size limit (default 16)\n"
    "  --kv-blocks N             KV pool size in blocks (default: from memory)\n"
    "  --threads N               CPU backend threads (default: all cores)\n"
    "  --max-connections N       open connections served at once, beyond that 503\n"
    "                            (default 2 * max-num-seqs + 4, at least 8)\n"
    "  --max-body-bytes N        larger request bodies get 413 (default 1048576)\n"
    "  --timeout S               seconds a client may stay silent mid-request or not read\n"
    "                            its answer before it is disconnected (default 30)\n"
    "  --quiet                   no access log on stderr\n"
    "endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,\n"
    "           GET /metrics (Prometheus)\n"
    "exit codes: 0 ok, 1 runtime failure, 2 bad arguments, a model that cannot be loaded or a port\n"
    "            that cannot be bound\n";

const std::set<std::string> kFlags = {"--help", "--version", "--quiet"};

struct BadArgument {
    std::string message;
};

int integer(const std::map<std::string, std::string>& o, const std::string& key, int fallback, int lo) {
    auto it = o.find(key);
    if (it == o.end()) return fallback;
    try {
        size_t used = 0;
        const long v = std::stol(it->second, &used);
        if (used == it->second.size() && v >= lo && v <= 1 << 30) return int(v);
    } catch (const std::exception&) {
    }
    throw BadArgument{key + " expects an integer >= " + std::to_string(lo) + ", got '" + it->second + "'"};
}

} // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h") a = "--help";
        if (a.rfind("--", 0) != 0) {
            std::fprintf(stderr, "ridgeline-serve: unexpected argument '%s' (try --help)\n", a.c_str());
            return 2;
        }
        if (auto eq = a.find('='); eq != std::string::npos) o[a.substr(0, eq)] = a.substr(eq + 1);
        else if (kFlags.count(a)) o[a] = "1";
        else if (i + 1 < argc) o[a] = argv[++i];
        else {
            std::fprintf(stderr, "ridgeline-serve: option %s needs a value\n", a.c_str());
            return 2;
        }
    }
    if (o.count("--version")) {
        std::printf("ridgeline-serve %s\n", RL_VERSION);
        return 0;
    }
    if (o.count("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    static const std::set<std::string> kKnown = {"--model", "--backend", "--host", "--port", "--api-key",
                                                 "--max-context", "--max-num-seqs", "--kv-blocks", "--threads",
                                                 "--max-connections", "--max-body-bytes", "--timeout", "--quiet"};
    for (auto& [k, v] : o)
        if (!kKnown.count(k)) {
            std::fprintf(stderr, "ridgeline-serve: unknown option %s (try --help)\n", k.c_str());
            return 2;
        }

    // Signals go to one thread that stops the server; block them before any thread starts.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGUSR1);   // our own wake-up for the signal thread at the end
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);   // a client gone mid-write is an error return, not a signal

    rl::engine_options eo;
    rl::serve_options so;
    try {
        if (!o.count("--model")) throw BadArgument{"--model PATH is required (try --help)"};
        eo.model_path = o["--model"];
        eo.backend = o.count("--backend") ? o["--backend"] : "auto";
        if (eo.backend != "cpu" && eo.backend != "cuda" && eo.backend != "auto")
            throw BadArgument{"--backend must be cpu, cuda or auto"};
        eo.threads = integer(o, "--threads", 0, 0);
        eo.max_context = integer(o, "--max-context", 0, 0);
        eo.serving.max_num_seqs = integer(o, "--max-num-seqs", eo.serving.max_num_seqs, 1);
        eo.serving.kv_blocks = integer(o, "--kv-blocks", 0, 0);
        if (auto err = rl::validate(eo.serving)) throw BadArgument{err.message};
        so.host = o.count("--host") ? o["--host"] : "127.0.0.1";
        so.port = integer(o, "--port", 8080, 1);
        if (so.port > 65535) throw BadArgument{"--port must be at most 65535"};
        so.api_key = o.count("--api-key") ? o["--api-key"] : "";
        if (o.count("--api-key") && so.api_key.empty()) throw BadArgument{"--api-key must not be empty"};
        so.max_connections = integer(o, "--max-connections", 0, 1);
        so.max_body_bytes = size_t(integer(o, "--max-body-bytes", int(so.max_body_bytes), 1024));
        so.read_timeout_s = so.write_timeout_s = integer(o, "--timeout", so.read_timeout_s, 1);
        so.access_log = !o.count("--quiet");
    } catch (const BadArgument& e) {
        std::fprintf(stderr, "ridgeline-serve: %s\n", e.message.c_str());
        return 2;
    }

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
        std::thread signals([&] {
            int sig = 0;
            sigwait(&stopSignals, &sig);
            if (sig == SIGUSR1) return;
            std::fprintf(stderr, "ridgeline-serve: stopping (signal %d)\n", sig);
            server.stop();
        });
        server.run();
        pthread_kill(signals.native_handle(), SIGUSR1);
        signals.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-serve: %s\n", e.what());
        return 1;
    }
    return 0;
}
