// The kernels' thread pool seen by the backend's own ops, which need to know which scratch
// buffer a chunk may use: each running chunk holds one of size() slots for its duration.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "backend/cpu/kernels/thread_pool.h"

namespace rf::cpu {

class WorkerPool {
public:
    explicit WorkerPool(int threads);

    int size() const { return pool_.size(); }
    ThreadPool& threads() { return pool_; }

    // Calls fn(begin, end, slot) on disjoint chunks covering [0, n); returns when all are done.
    // No two chunks that run at the same time share a slot (< size()).
    template <typename Fn>
    void parallel_for(int64_t n, Fn&& fn) {
        pool_.parallel_for(n, [&](int64_t begin, int64_t end) {
            const int slot = claim();
            fn(begin, end, slot);
            slots_[slot].store(false, std::memory_order_release);
        });
    }

    // Threads to use when none are asked for: the machine's cores.
    static int default_threads();

private:
    int claim();

    ThreadPool pool_;
    std::unique_ptr<std::atomic<bool>[]> slots_;
};

}  // namespace rf::cpu
