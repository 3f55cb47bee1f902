// Writes GGUF v3 files: metadata in insertion order, then tensor infos, then aligned tensor data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace rf::gguf {

class Writer {
public:
    // Replaces an existing key's value, keeping its position.
    void set(const std::string& key, Value value);
    // `shape` in ggml order (shape[0] = row length); `data` must hold exactly the tensor's bytes.
    Status add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> shape,
                      std::vector<uint8_t> data);

    // Serialises to memory (tests, fuzz corpus) or to a file (written to PATH.tmp, then renamed).
    Result<std::vector<uint8_t>> to_bytes() const;
    Status write_file(const std::string& path) const;

    uint32_t alignment() const;

private:
    Result<std::vector<uint8_t>> header_bytes() const;

    struct PendingTensor {
        std::string name;
        TensorType type;
        std::vector<uint64_t> shape;
        std::vector<uint8_t> data;
    };
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace rf::gguf
