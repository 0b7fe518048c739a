// host_info: this machine's CPU and memory as a device_info (model name from /proc/cpuinfo, total
// and available memory from /proc/meminfo). The CPU backend reports it, and the window refreshes
// the memory figures from it while a CPU model runs.
#pragma once
#include "backend/backend.h"

namespace rl {

/// The CPU's model name ("CPU" when unknown).
std::string host_cpu_name();
/// Fills total_memory and free_memory (available) in bytes; leaves them where /proc/meminfo is missing.
void read_host_memory(device_info& d);
/// Available memory in bytes (MemAvailable), 0 where /proc/meminfo is missing.
size_t host_available_memory();
/// This process's resident set size in MiB (/proc/self/statm); -1 where it cannot be read.
double process_resident_mib();
/// The bytes malloc has handed out and not had back, in MiB (glibc's mallinfo2: heap and mmapped
/// blocks); -1 elsewhere. Against the resident size it tells a growing heap from other growth.
double heap_in_use_mib();
/// The resident set by kind (/proc/self/status, MiB; -1 where unreadable): anonymous memory
/// (heap, stacks, driver allocations), file-backed pages (mapped libraries and model files,
/// which the kernel may drop) and shared memory. Tells a growing heap from libraries paged in.
struct resident_split {
    double anon_mib = -1, file_mib = -1, shmem_mib = -1;
};
resident_split process_resident_split();
/// Free bytes malloc holds in its arenas (glibc's mallinfo2 fordblks), MiB; -1 elsewhere. Memory
/// freed but kept resident: fragmentation, where it grows while the heap in use does not.
double heap_free_mib();
/// Caps glibc's malloc arenas at 2 (mallopt M_ARENA_MAX), unless MALLOC_ARENA_MAX is set in the
/// environment. The long-running programs call it first in main, before any thread starts. By
/// default glibc gives threads that contend arenas of their own (up to 8 per core), and over
/// hours of allocations of varied sizes from the engine, HTTP and UI threads each arena's free
/// space fragments and spreads: the soaks' resident set crept with the bytes in use flat, and
/// with two arenas it stayed level. Nothing elsewhere.
void limit_heap_arenas();
/// Hands the allocator's free heap pages back to the system (glibc's malloc_trim; nothing
/// elsewhere). Called after a model is unloaded: its gigabytes were freed, but glibc keeps freed
/// heap memory resident, so without this every reload or pool restart leaves the resident size
/// higher than before.
void release_free_heap();
/// kind "cpu", the name, compute_units = threads, and the memory figures.
device_info host_cpu_info(int threads);

} // namespace rl
