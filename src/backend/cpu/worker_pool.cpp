#include "backend/cpu/worker_pool.h"

#include <thread>

namespace rf::cpu {

WorkerPool::WorkerPool(int threads) : pool_(threads), slots_(new std::atomic<bool>[pool_.size()]) {
    for (int i = 0; i < pool_.size(); ++i) slots_[i].store(false);
}

int WorkerPool::default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

int WorkerPool::claim() {
    // At most size() chunks run at once, so a free slot always exists.
    for (;;)
        for (int i = 0; i < pool_.size(); ++i)
            if (!slots_[i].load(std::memory_order_relaxed) && !slots_[i].exchange(true, std::memory_order_acquire))
                return i;
}

}  // namespace rf::cpu
