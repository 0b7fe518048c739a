// soak_probe.cpp: /proc and nvidia-smi readers for ridgeline-soak.
#include "soak_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace rl::soak {

namespace {
// Runs a command and returns its standard output ("" when it cannot run).
std::string capture(const char* cmd) {
    std::string out;
    if (FILE* p = popen(cmd, "r")) {
        char buf[512];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        if (pclose(p) != 0) out.clear();
    }
    return out;
}
} // namespace

gpu_memory gpu_memory_mib() {
    gpu_memory g;
    const std::string used = capture("nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null");
    if (!used.empty()) g.device_used = std::atoll(used.c_str());
    const std::string apps =
        capture("nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null");
    const long long me = getpid();
    for (size_t at = 0; at < apps.size();) {
        const size_t eol = std::min(apps.find('\n', at), apps.size());
        const std::string line = apps.substr(at, eol - at);
        const size_t comma = line.find(',');
        if (comma != std::string::npos && std::atoll(line.c_str()) == me)
            g.this_process = std::atoll(line.c_str() + comma + 1);
        at = eol + 1;
    }
    return g;
}

int free_tcp_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

} // namespace rl::soak
