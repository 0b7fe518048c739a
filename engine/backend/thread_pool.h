// thread_pool: a small persistent pool for the CPU backend's parallel-for over rows and heads.
// No thread starts per op: workers live as long as the pool. The calling thread takes part in
// every job, and a job is done when all its items are, not when every worker has checked in: on
// a machine busy with other work (a compile on a 2-core laptop) a worker the OS has not
// scheduled yet simply finds nothing left, instead of stalling the op for a time slice. Workers
// claim chunks through one atomic word holding (job generation, next item), so a worker waking
// late can never take items of a newer job by mistake. They spin briefly between jobs (a forward
// pass issues hundreds of short ops back to back, and a wake-up per op would cost more than the
// op) and then sleep, so an idle engine costs no CPU. Exercised by every cpu_backend test.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RL_CPU_RELAX() _mm_pause()
#else
#define RL_CPU_RELAX() std::this_thread::yield()
#endif

namespace rl {

class thread_pool {
public:
    /// n_threads counts the caller; 1 means everything runs inline.
    explicit thread_pool(int n_threads) : n_threads_(std::max(1, n_threads)) {
        for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
    }
    ~thread_pool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
            wake_.fetch_add(1);
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    int size() const { return n_threads_; }

    /// Calls fn(begin, end) over [0, n) in chunks of at least `grain` items. Blocks until done;
    /// rethrows the first exception a chunk threw.
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
        if (n <= 0) return;
        grain = std::max<int64_t>(1, grain);
        if (n_threads_ == 1 || n <= grain) {
            fn(0, n);
            return;
        }
        // About 4 chunks per thread balances uneven rows without much claiming traffic.
        const int64_t chunk = std::max(grain, (n + 4 * n_threads_ - 1) / (4 * n_threads_));
        const uint64_t g = (++gen_) & kGenMask;
        job& jb = jobs_[g & 1];  // job g-2's slot: every claim on it ended before g-1 began
        jb.fn.store(&fn, std::memory_order_relaxed);
        jb.n.store(n, std::memory_order_relaxed);
        jb.chunk.store(chunk, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        error_ = nullptr;
        claim_.store(g << kIndexBits, std::memory_order_release);
        wake_.fetch_add(1);  // seq_cst: ordered against a worker's sleepers_ increment
        if (sleepers_.load() > 0) {
            std::lock_guard<std::mutex> lk(mu_);
            cv_.notify_all();
        }
        run_chunks(g);
        // Wait only for chunks other threads are still running; yield now and then, in case one
        // was preempted on this core.
        for (int spin = 0; done_.load(std::memory_order_acquire) < n; ++spin) {
            if (spin % 1024 == 1023) std::this_thread::yield();
            else RL_CPU_RELAX();
        }
        if (error_) std::rethrow_exception(error_);
    }

private:
    static constexpr int kIndexBits = 40;
    static constexpr uint64_t kIndexMask = (uint64_t(1) << kIndexBits) - 1;
    static constexpr uint64_t kGenMask = (uint64_t(1) << (64 - kIndexBits)) - 1;

    struct job {
        std::atomic<const std::function<void(int64_t, int64_t)>*> fn{nullptr};
        std::atomic<int64_t> n{0}, chunk{1};
    };

    // Claims and runs chunks of job g until none are left or a newer job has replaced it.
    void run_chunks(uint64_t g) {
        const job& jb = jobs_[g & 1];
        uint64_t w = claim_.load(std::memory_order_acquire);
        for (;;) {
            if ((w >> kIndexBits) != g) return;
            // Read after seeing generation g in the claim word, so these are job g's values,
            // or the CAS below fails because a newer job has been published meanwhile.
            const int64_t n = jb.n.load(std::memory_order_relaxed), chunk = jb.chunk.load(std::memory_order_relaxed);
            const auto* fn = jb.fn.load(std::memory_order_relaxed);
            const int64_t b = int64_t(w & kIndexMask);
            if (b >= n) return;
            const int64_t e = std::min(n, b + chunk);
            if (!claim_.compare_exchange_weak(w, (g << kIndexBits) | uint64_t(e), std::memory_order_acq_rel,
                                              std::memory_order_acquire))
                continue;
            try {
                (*fn)(b, e);
            } catch (...) {
                std::lock_guard<std::mutex> lk(err_mu_);
                if (!error_) error_ = std::current_exception();
            }
            done_.fetch_add(e - b, std::memory_order_acq_rel);
            w = claim_.load(std::memory_order_acquire);
        }
    }

    void worker_loop() {
        uint64_t seen = 0;  // wake_'s value at construction: a job or stop before this thread ran counts
        for (;;) {
            // Spin a little for the next job, then sleep on the condition variable.
            uint64_t v = wake_.load(std::memory_order_acquire);
            for (int spin = 0; v == seen && !stop_ && spin < 4096; ++spin) {
                RL_CPU_RELAX();
                v = wake_.load(std::memory_order_acquire);
            }
            if (v == seen && !stop_) {
                sleepers_.fetch_add(1);
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return wake_.load() != seen || stop_; });
                sleepers_.fetch_sub(1);
                v = wake_.load();
            }
            seen = v;
            if (stop_) return;
            const uint64_t w = claim_.load(std::memory_order_acquire);
            run_chunks(w >> kIndexBits);
        }
    }

    const int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mu_, err_mu_;
    std::condition_variable cv_;
    std::atomic<uint64_t> wake_{0};      // bumped per job: workers watch it
    std::atomic<int> sleepers_{0};       // workers blocked on cv_
    std::atomic<uint64_t> claim_{0};     // generation << kIndexBits | next item of that job
    std::atomic<int64_t> done_{0};       // items finished in the current job
    job jobs_[2];
    uint64_t gen_ = 0;                   // the caller's job count
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;
};

} // namespace rl
