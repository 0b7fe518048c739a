// host_info.cpp: see host_info.h.
#include "backend/host_info.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rl {

double process_resident_mib() {
    std::ifstream f("/proc/self/statm");
    long long pages = 0, resident = 0;
    if (!(f >> pages >> resident)) return -1;
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double heap_in_use_mib() {
#if defined(__GLIBC__)
    const struct mallinfo2 m = mallinfo2();
    return double(m.uordblks + m.hblkhd) / (1024.0 * 1024.0);
#else
    return -1;
#endif
}

resident_split process_resident_split() {
    resident_split r;
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);) {
        double* dst = line.rfind("RssAnon:", 0) == 0    ? &r.anon_mib
                      : line.rfind("RssFile:", 0) == 0  ? &r.file_mib
                      : line.rfind("RssShmem:", 0) == 0 ? &r.shmem_mib
                                                        : nullptr;
        if (!dst) continue;
        const size_t colon = line.find(':');
        *dst = std::strtod(line.c_str() + colon + 1, nullptr) / 1024.0;   // "  1234 kB"
    }
    return r;
}

double heap_free_mib() {
#if defined(__GLIBC__)
    return double(mallinfo2().fordblks) / (1024.0 * 1024.0);
#else
    return -1;
#endif
}

void limit_heap_arenas() {
#if defined(__GLIBC__)
    if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
}

void release_free_heap() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

std::string host_cpu_name() {
    std::string name;
    std::ifstream cpu("/proc/cpuinfo");
    for (std::string line; std::getline(cpu, line);) {
        if (line.rfind("model name", 0) == 0) {
            const auto c = line.find(':');
            name = c == std::string::npos ? line : line.substr(c + 1);
            while (!name.empty() && name.front() == ' ') name.erase(0, 1);
            break;
        }
    }
    return name.empty() ? "CPU" : name;
}

void read_host_memory(device_info& d) {
    std::ifstream mem("/proc/meminfo");
    std::string key, unit;
    size_t v = 0;
    while (mem >> key >> v) {
        std::getline(mem, unit);
        if (key == "MemTotal:") d.total_memory = v * 1024;
        if (key == "MemAvailable:") d.free_memory = v * 1024;
    }
}

size_t host_available_memory() {
    device_info d;
    read_host_memory(d);
    return d.free_memory;
}

device_info host_cpu_info(int threads) {
    device_info d;
    d.kind = "cpu";
    d.name = host_cpu_name();
    d.compute_units = threads;
    read_host_memory(d);
    return d;
}

} // namespace rl
