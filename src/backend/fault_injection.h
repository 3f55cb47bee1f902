// Faults made on purpose, to test what the engine and the server do when a device fails. A plan
// names which call of a kind fails: "KIND:N" (the N-th call fails once, transiently: the same
// call made again succeeds) or "KIND:N:sticky" (the N-th and every later call fail, as a lost
// device would); several specs are separated by commas. KIND is `op` (a computing operation, as
// a kernel launch), `copy` (upload or download) or `alloc` (allocation, weight import). The CLI
// reads a plan from ROCMFORGE_INJECT_FAULT for the backend that computes the model's layers.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace rf {

enum class FaultKind { Op, Copy, Alloc };

class FaultInjector {
public:
    static Result<FaultInjector> parse(std::string_view plan);

    FaultInjector() = default;
    FaultInjector(const FaultInjector& other);
    FaultInjector& operator=(const FaultInjector& other);

    // Counts a call of `kind`; an Error when the plan says this one fails.
    Status check(FaultKind kind);
    uint64_t injected() const { return injected_.load(std::memory_order_relaxed); }

private:
    struct Spec {
        FaultKind kind;
        uint64_t nth;
        bool sticky;
    };
    std::vector<Spec> specs_;
    std::array<std::atomic<uint64_t>, 3> calls_{};
    std::atomic<uint64_t> injected_{0};
};

}  // namespace rf
