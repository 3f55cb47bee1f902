// The backend whole-model tests run on: the CPU unless ROCMFORGE_TEST_DEVICE says "cuda", so that
// the same conformance and engine tests check a GPU backend. A requested GPU that is not there
// fails the test loudly (an exception gtest reports) instead of quietly testing the CPU.
#pragma once

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "backend/backend_factory.h"
#include "backend/cpu/cpu_backend.h"

namespace rf::test {

// "cpu" or "cuda": what ROCMFORGE_TEST_DEVICE asks for (unset: "cpu").
inline std::string test_device() {
    const char* env = std::getenv("ROCMFORGE_TEST_DEVICE");
    return env && *env ? env : "cpu";
}

// `cpu` applies when the device is the CPU. Tests that compare a sequence run alone with the same
// sequence batched with others ask a GPU for batch invariance (the CPU always has it).
inline std::unique_ptr<Backend> make_test_backend(cpu::CpuBackendOptions cpu = {}, bool batch_invariant = false) {
    const std::string device = test_device();
    if (device == "cpu") return std::make_unique<cpu::CpuBackend>(cpu);
    if (device != "cuda")
        throw std::runtime_error("ROCMFORGE_TEST_DEVICE=" + device + ": expected cpu or cuda");
    auto created = create_backend({.device = DeviceKind::Cuda, .batch_invariant = batch_invariant});
    if (!created) throw std::runtime_error("ROCMFORGE_TEST_DEVICE=cuda: " + created.error().message);
    return std::move(created->backend);
}

}  // namespace rf::test
