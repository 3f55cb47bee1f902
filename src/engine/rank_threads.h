// Runs one function for every rank of a tensor-parallel group at once: rank 0 on the caller's
// thread, each other rank on a thread of its own kept for the engine's life (a decode step takes
// milliseconds; starting threads every step would cost a noticeable part of one).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/result.h"

namespace rf::engine {

class RankThreads {
public:
    explicit RankThreads(int ranks);
    ~RankThreads();
    RankThreads(const RankThreads&) = delete;
    RankThreads& operator=(const RankThreads&) = delete;

    int ranks() const { return static_cast<int>(results_.size()); }
    // work(r) for every rank r, all at once; returns when every rank is done, with the error of
    // the lowest rank that failed.
    Status run(const std::function<Status(int)>& work);

private:
    void serve(int rank);

    std::mutex mutex_;
    std::condition_variable start_, done_;
    const std::function<Status(int)>* work_ = nullptr;
    uint64_t round_ = 0;
    int pending_ = 0;
    bool stopping_ = false;
    std::vector<Status> results_;
    std::vector<std::thread> threads_;  // ranks 1..N-1
};

}  // namespace rf::engine
