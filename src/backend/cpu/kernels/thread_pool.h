// A fixed set of worker threads that split index ranges with the calling thread. Built for the
// token loop: workers persist, a call allocates nothing, and idle workers spin briefly before
// sleeping so back-to-back calls (one per matrix product) do not pay a wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rf::cpu {

class ThreadPool {
public:
    // `threads` counts the caller: ThreadPool(2) starts one worker. Values below 1 mean 1.
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Calls fn on disjoint ranges [begin, end) that together cover [0, n), from the caller and
    // the workers, and returns when all are done. One call at a time per pool (calls from several
    // threads are serialized); fn must not call parallel_for on the same pool. The range is cut
    // into about chunks_per_thread ranges per thread, taken in turn by whichever thread is free:
    // more balance the load when a thread is slowed, fewer give longer runs of consecutive work.
    void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                      int chunks_per_thread = 4);

private:
    void worker_loop();
    void run_chunks();

    std::vector<std::thread> workers_;
    std::mutex call_mutex_;  // one parallel_for at a time

    // The current job, published by bumping generation_.
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    int64_t grain_ = 1;
    std::atomic<int64_t> next_{0};
    std::atomic<int> busy_workers_{0};
    std::atomic<uint64_t> generation_{0};

    std::mutex sleep_mutex_;
    std::condition_variable wake_;   // workers wait here for a new generation
    std::condition_variable done_;   // the caller waits here for busy_workers_ to reach 0
    std::atomic<bool> stopping_{false};
};

}  // namespace rf::cpu
