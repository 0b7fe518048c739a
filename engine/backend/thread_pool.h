// thread_pool: a small persistent pool for the CPU backend's parallel-for over rows and heads.
// The calling thread takes part in every job. Workers spin briefly between jobs (a forward pass
// issues hundreds of short ops back to back, and a condition-variable wake-up per op would cost
// more than the op) and then sleep, so an idle engine costs no CPU.
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
            gen_.fetch_add(1, std::memory_order_release);
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
        // About 4 chunks per thread balances uneven rows without much scheduling traffic.
        const int64_t chunk = std::max(grain, (n + 4 * n_threads_ - 1) / (4 * n_threads_));
        fn_ = &fn;
        n_ = n;
        chunk_ = chunk;
        next_.store(0, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        error_ = nullptr;
        {
            std::lock_guard<std::mutex> lk(mu_);
            gen_.fetch_add(1, std::memory_order_release);
        }
        cv_.notify_all();
        work();
        const int workers = n_threads_ - 1;
        while (done_.load(std::memory_order_acquire) < workers) RL_CPU_RELAX();
        fn_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

private:
    void work() {
        for (;;) {
            const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
            if (b >= n_) return;
            try {
                (*fn_)(b, std::min(n_, b + chunk_));
            } catch (...) {
                std::lock_guard<std::mutex> lk(err_mu_);
                if (!error_) error_ = std::current_exception();
            }
        }
    }

    void worker_loop() {
        uint64_t seen = 0;
        for (;;) {
            // Spin a little for the next job, then sleep on the condition variable.
            uint64_t g = gen_.load(std::memory_order_acquire);
            for (int spin = 0; g == seen && spin < 20000; ++spin) {
                RL_CPU_RELAX();
                g = gen_.load(std::memory_order_acquire);
            }
            if (g == seen) {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
                g = gen_.load(std::memory_order_acquire);
            }
            seen = g;
            if (stop_) return;
            work();
            done_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    const int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mu_, err_mu_;
    std::condition_variable cv_;
    std::atomic<uint64_t> gen_{0};
    std::atomic<int64_t> next_{0};
    std::atomic<int> done_{0};
    bool stop_ = false;
    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t n_ = 0, chunk_ = 1;
    std::exception_ptr error_;
};

} // namespace rl
