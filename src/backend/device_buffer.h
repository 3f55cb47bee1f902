// A block of backend memory (host memory on the CPU, device memory on a GPU), and host memory a
// backend downloads into fastest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace rf {

// A block of backend memory. Handles are cheap to copy; the memory lives as long as any copy.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(std::shared_ptr<void> storage, size_t bytes) : storage_(std::move(storage)), bytes_(bytes) {}

    float* f32() const { return static_cast<float*>(storage_.get()); }
    int32_t* i32() const { return static_cast<int32_t*>(storage_.get()); }
    uint8_t* bytes() const { return static_cast<uint8_t*>(storage_.get()); }
    size_t size_bytes() const { return bytes_; }
    bool empty() const { return storage_ == nullptr; }
    // A reference that does not keep the memory alive (caches of imported weights).
    std::weak_ptr<void> watch() const { return storage_; }

private:
    std::shared_ptr<void> storage_;
    size_t bytes_ = 0;
};

// Host memory from Backend::allocate_host: ordinary memory, or page-locked where the backend's
// downloads are faster into it (a GPU's copy engines write there directly). Handles as above.
class HostBuffer {
public:
    HostBuffer() = default;
    HostBuffer(std::shared_ptr<void> storage, size_t bytes) : storage_(std::move(storage)), bytes_(bytes) {}

    float* f32() const { return static_cast<float*>(storage_.get()); }
    size_t size_bytes() const { return bytes_; }
    bool empty() const { return storage_ == nullptr; }

private:
    std::shared_ptr<void> storage_;
    size_t bytes_ = 0;
};

}  // namespace rf
