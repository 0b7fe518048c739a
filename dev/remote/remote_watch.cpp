// remote_watch: remote mode's reader without the window, for dev/remote/check-remote-llama.sh.
//   remote_watch export POOL_TOKENS THREADS MAX_SEQS CONTEXT MODEL   prints the llama-server script
//                                                                      Ridgeline exports for them
//   remote_watch watch URL INTERVAL_MS SECONDS                       scrapes URL (curl) and prints
//                                                                      one JSON line per interval
// The same code paths as the window: rl::export_script (interop/export_commands) and
// rl::read_remote_scrape + rl::remote_sample_between (interop/remote_metrics). Built by the check
// script against build/interop and build/engine; not part of the CMake build.
#include "interop/export_commands.h"
#include "interop/remote_metrics.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

std::string fetch(const std::string& url) {
    std::string out;
    FILE* p = popen(("curl -sf --max-time 5 '" + url + "'").c_str(), "r");
    if (!p) return out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

double epoch_s() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// JSON has no NaN: null.
std::string num(double v) {
    if (std::isnan(v)) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}

int watch(const std::string& url, int interval_ms, double seconds) {
    rl::remote_scrape prev;
    bool have = false;
    const double end = epoch_s() + seconds;
    while (epoch_s() < end) {
        const double t = epoch_s();
        const std::string page = fetch(url);
        rl::remote_scrape cur;
        std::string error;
        if (!rl::read_remote_scrape(page, t, url, cur, error)) {
            std::printf("{\"t\":%s,\"error\":\"%s\"}\n", num(t).c_str(), error.c_str());
        } else {
            if (have) {
                const rl::remote_sample s = rl::remote_sample_between(prev, cur);
                std::printf("{\"t0\":%s,\"t1\":%s,\"running\":%s,\"waiting\":%s,\"prompt_tokens\":%s,"
                            "\"generation_tokens\":%s,\"generation_tok_s\":%s,\"prefix_hit_rate\":%s,"
                            "\"tpot_mean_s\":%s,\"kv_usage\":%s}\n",
                            num(s.t0_s).c_str(), num(s.t1_s).c_str(), num(s.running).c_str(), num(s.waiting).c_str(),
                            num(s.prompt_tokens).c_str(), num(s.generation_tokens).c_str(),
                            num(s.generation_tok_s).c_str(), num(s.prefix_hit_rate).c_str(),
                            num(s.tpot_mean_s).c_str(), num(s.kv_usage).c_str());
            }
            prev = cur;
            have = true;
        }
        std::fflush(stdout);
        const double next = t + interval_ms / 1000.0;
        while (epoch_s() < next) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "export" && argc == 7) {
        rl::export_input in;
        in.kv_pool_tokens = std::atoi(argv[2]);
        in.cpu_threads = std::atoi(argv[3]);
        in.config.max_num_seqs = std::atoi(argv[4]);
        in.max_model_len = std::atoi(argv[5]);
        in.model_path = argv[6];
        std::fputs(rl::export_script(rl::export_target::llama_server, in).c_str(), stdout);
        return 0;
    }
    if (mode == "watch" && argc == 5) return watch(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
    std::fprintf(stderr, "usage: remote_watch export POOL_TOKENS THREADS MAX_SEQS CONTEXT MODEL\n"
                         "       remote_watch watch URL INTERVAL_MS SECONDS\n");
    return 2;
}
