// What the GPU runtime reports about the devices of this machine. Plain C++: callers need no GPU headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace rf::gpu {

struct DeviceInfo {
    int index = 0;
    std::string name;
    int compute_major = 0, compute_minor = 0;
    int multiprocessors = 0;
    uint64_t total_memory = 0;
    uint64_t free_memory = 0;
    uint64_t l2_cache_bytes = 0;
    uint64_t shared_memory_per_block_optin = 0;
    int memory_bus_width_bits = 0;
    int warp_size = 0;
};

struct RuntimeInfo {
    int driver_version = 0;   // e.g. 13000 for 13.0; 0 when no driver is installed
    int runtime_version = 0;
    std::vector<DeviceInfo> devices;
};

// Lists the devices. A machine without a GPU or driver yields an Error saying so, not a crash.
Result<RuntimeInfo> query_devices();

// Runs a trivial kernel on `device` and checks its result: proves the build's code runs on the card.
Status self_test(int device);

}  // namespace rf::gpu
