#include "engine/rank_threads.h"

namespace rf::engine {

namespace {

// work(rank), an exception (out of memory, say) turned into an Error: it must not unwind past the
// other ranks, which are still running.
Status run_one(const std::function<Status(int)>& work, int rank) {
    try {
        return work(rank);
    } catch (const std::exception& e) {
        return make_error("rank {}: {}", rank, e.what());
    }
}

}  // namespace

RankThreads::RankThreads(int ranks) : results_(static_cast<size_t>(ranks), ok_status()) {
    for (int r = 1; r < ranks; ++r) threads_.emplace_back([this, r] { serve(r); });
}

RankThreads::~RankThreads() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    start_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void RankThreads::serve(int rank) {
    uint64_t seen = 0;
    for (;;) {
        const std::function<Status(int)>* work = nullptr;
        {
            std::unique_lock lock(mutex_);
            start_.wait(lock, [&] { return stopping_ || round_ != seen; });
            if (stopping_) return;
            seen = round_;
            work = work_;
        }
        Status result = run_one(*work, rank);
        std::lock_guard lock(mutex_);
        results_[static_cast<size_t>(rank)] = std::move(result);
        if (--pending_ == 0) done_.notify_all();
    }
}

Status RankThreads::run(const std::function<Status(int)>& work) {
    {
        std::lock_guard lock(mutex_);
        work_ = &work;
        pending_ = ranks() - 1;
        ++round_;
    }
    start_.notify_all();
    results_[0] = run_one(work, 0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    work_ = nullptr;
    for (Status& s : results_)
        if (!s.ok()) return s;
    return ok_status();
}

}  // namespace rf::engine
