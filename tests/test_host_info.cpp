// host_info's memory readings, which the soak attributes growth with: the resident split adds up
// to the resident size and sees anonymous memory being touched; malloc's free bytes see a freed
// heap that glibc keeps; the arena cap holds.
#include "rl_test.h"

#include "backend/host_info.h"

#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define RL_SANITIZED_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RL_SANITIZED_HEAP 1
#endif
#endif

class TestHostInfo : public QObject {
    Q_OBJECT
private slots:
    void residentSplitAddsUp() {
        const rl::resident_split a = rl::process_resident_split();
        const double rss = rl::process_resident_mib();
        QVERIFY(a.anon_mib > 0 && a.file_mib > 0 && a.shmem_mib >= 0);
        const double sum = a.anon_mib + a.file_mib + a.shmem_mib;
        QVERIFY2(std::abs(sum - rss) < 2.0, (std::to_string(sum) + " MiB by kind, statm " + std::to_string(rss)).c_str());
        // 64 MiB written: anonymous, not file-backed.
        std::vector<char> big(64u << 20);
        for (size_t i = 0; i < big.size(); i += 4096) big[i] = char(i);
        const rl::resident_split b = rl::process_resident_split();
        QVERIFY2(b.anon_mib - a.anon_mib > 60, std::to_string(b.anon_mib - a.anon_mib).c_str());
        QVERIFY(std::abs(b.file_mib - a.file_mib) < 8);
        QVERIFY(big[4096] == char(4096));
    }

    void heapFreeSeesKeptMemory() {
#ifdef RL_SANITIZED_HEAP
        QSKIP("AddressSanitizer's allocator replaces glibc's arenas; mallinfo2 does not see it");
#endif
        const double before = rl::heap_free_mib();
        QVERIFY(before >= 0);
        // Many small blocks (below the mmap threshold) freed together stay in the arena, except
        // the top chunk; free every other one so the arena cannot shrink.
        std::vector<std::unique_ptr<char[]>> blocks;
        for (int i = 0; i < 40000; ++i) blocks.emplace_back(new char[1000]);
        for (size_t i = 0; i < blocks.size(); i += 2) blocks[i].reset();
        const double after = rl::heap_free_mib();
        QVERIFY2(after - before > 15, (std::to_string(before) + " -> " + std::to_string(after)).c_str());
    }

    // After limit_heap_arenas, threads that allocate at once share at most two arenas
    // (malloc_info lists one <heap> per arena).
    void arenasAreCapped() {
#ifdef RL_SANITIZED_HEAP
        QSKIP("AddressSanitizer's allocator replaces glibc's arenas");
#endif
        if (std::getenv("MALLOC_ARENA_MAX")) QSKIP("MALLOC_ARENA_MAX is set in the environment");
        rl::limit_heap_arenas();
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 12; ++t)
            threads.emplace_back([&ready] {
                ++ready;
                while (ready.load() < 12) std::this_thread::yield();   // all allocate at once
                std::vector<std::unique_ptr<char[]>> v;
                for (int i = 0; i < 20000; ++i) v.emplace_back(new char[64 + i % 512]);
            });
        for (auto& t : threads) t.join();
        char* buf = nullptr;
        size_t len = 0;
        FILE* f = open_memstream(&buf, &len);
        QVERIFY(f);
        malloc_info(0, f);
        std::fclose(f);
        const std::string xml(buf, len);
        std::free(buf);
        int heaps = 0;
        for (size_t at = xml.find("<heap nr="); at != std::string::npos; at = xml.find("<heap nr=", at + 1)) ++heaps;
        QVERIFY2(heaps >= 1 && heaps <= 2, (std::to_string(heaps) + " arenas").c_str());
    }
};

RL_TEST_MAIN(TestHostInfo, residentSplitAddsUp, heapFreeSeesKeptMemory, arenasAreCapped)
#include "test_host_info.moc"
