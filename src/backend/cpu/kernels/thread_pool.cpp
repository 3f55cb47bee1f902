#include "backend/cpu/kernels/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RF_CPU_RELAX() _mm_pause()
#else
#define RF_CPU_RELAX() std::this_thread::yield()
#endif

namespace rf::cpu {
namespace {

// How long a thread busy-waits before it blocks. Matrix products in the token loop follow each
// other within microseconds; sleeping between them would cost a futex wake-up per product.
constexpr auto kSpinTime = std::chrono::microseconds(100);

// Spins until pred() holds or kSpinTime passes; true when pred() held.
template <typename Pred>
bool spin_until(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
    for (int i = 0;; ++i) {
        if (pred()) return true;
        RF_CPU_RELAX();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return pred();
    }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
    const int workers = std::max(threads, 1) - 1;
    workers_.reserve(static_cast<size_t>(workers));
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(sleep_mutex_);
        stopping_.store(true, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_chunks() {
    const auto& fn = *job_;
    for (;;) {
        const int64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
        if (begin >= job_n_) return;
        fn(begin, std::min(begin + grain_, job_n_));
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int chunks_per_thread) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {
        fn(0, n);
        return;
    }
    std::lock_guard call_lock(call_mutex_);
    job_ = &fn;
    job_n_ = n;
    grain_ = std::max<int64_t>(1, n / (std::max(chunks_per_thread, 1) * static_cast<int64_t>(size())));
    next_.store(0, std::memory_order_relaxed);
    busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
        std::lock_guard lock(sleep_mutex_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();

    run_chunks();

    if (!spin_until([&] { return busy_workers_.load(std::memory_order_acquire) == 0; })) {
        std::unique_lock lock(sleep_mutex_);
        done_.wait(lock, [&] { return busy_workers_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
}

void ThreadPool::worker_loop() {
    // Jobs are counted from construction (generation 0), not from when this thread got going:
    // a job posted before the thread first ran must still be seen as new.
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
            std::unique_lock lock(sleep_mutex_);
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_.load(std::memory_order_acquire)) return;
        run_chunks();
        if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(sleep_mutex_);
            done_.notify_one();
        }
    }
}

}  // namespace rf::cpu
