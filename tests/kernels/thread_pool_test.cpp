#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/kernels/thread_pool.h"

namespace rf::cpu {
namespace {

// Every index in [0, n) is visited exactly once, for sizes around the chunking boundaries and
// any number of chunks per thread.
TEST(ThreadPool, CoversEveryIndexOnce) {
    for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        EXPECT_EQ(pool.size(), threads);
        for (int chunks : {0, 1, 4}) {
            for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 100, 1001}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                pool.parallel_for(
                    n,
                    [&](int64_t begin, int64_t end) {
                        ASSERT_LE(0, begin);
                        ASSERT_LT(begin, end);
                        ASSERT_LE(end, n);
                        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
                    },
                    chunks);
                for (int64_t i = 0; i < n; ++i)
                    EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " i " << i << " chunks " << chunks;
            }
        }
    }
}

// Many back-to-back calls (the token loop's pattern) all complete, with work spread over threads.
TEST(ThreadPool, ManyCallsAndSeveralThreadsTakePart) {
    ThreadPool pool(2);
    std::atomic<int64_t> total{0};
    std::atomic<bool> saw_other_thread{false};
    const auto caller = std::this_thread::get_id();
    for (int call = 0; call < 2000; ++call) {
        pool.parallel_for(64, [&](int64_t begin, int64_t end) {
            if (std::this_thread::get_id() != caller) saw_other_thread = true;
            // Enough work per chunk that the worker gets a share before the caller finishes.
            volatile double sink = 0;
            for (int i = 0; i < 2000; ++i) sink = sink + i;
            total += end - begin;
        });
    }
    EXPECT_EQ(total.load(), 64 * 2000);
    EXPECT_TRUE(saw_other_thread.load());
}

// Calls from several threads on one pool are serialized, not interleaved.
TEST(ThreadPool, ConcurrentCallersAreSerialized) {
    ThreadPool pool(2);
    std::atomic<int64_t> total{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 3; ++c)
        callers.emplace_back([&] {
            for (int call = 0; call < 200; ++call)
                pool.parallel_for(10, [&](int64_t begin, int64_t end) { total += end - begin; });
        });
    for (auto& t : callers) t.join();
    EXPECT_EQ(total.load(), 3 * 200 * 10);
}

}  // namespace
}  // namespace rf::cpu
