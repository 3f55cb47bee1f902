// Reads GGUF v2/v3 files through a memory mapping. Every count, size and offset is checked against
// the file, so a corrupt or hostile file yields an Error naming the file, byte offset and problem.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"
#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace rf::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32
inline constexpr uint32_t kDefaultAlignment = 32;

struct TensorInfo {
    std::string name;
    std::vector<uint64_t> shape;     // ggml order: shape[0] is the row length (contiguous)
    TensorType type;
    uint64_t offset = 0;             // from the start of the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;   // into the file's bytes

    uint64_t rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
    std::span<const uint8_t> bytes() const { return {data, n_bytes}; }
};

struct MetadataEntry {
    std::string key;
    Value value;
};

class File {
public:
    // Maps (or, with FileLoad::Copy, reads into memory) and parses the file at `path`.
    static Result<File> open(const std::string& path, FileLoad load = FileLoad::Map,
                             const MappedFile::Progress& progress = {});
    // Parses bytes owned by the caller (they must outlive the File); `name` labels errors.
    static Result<File> parse(std::span<const uint8_t> bytes, std::string name);

    const std::string& path() const { return name_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return bytes_.size(); }
    // True when the bytes are this process's own copy (FileLoad::Copy), which the backend that
    // imports a tensor may rearrange for its kernels.
    bool owns_bytes() const { return mapping_.copied(); }

    // Metadata in file order.
    const std::vector<MetadataEntry>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed accessors: an Error names the key and what was found when it is missing or mistyped.
    Result<std::string> get_string(std::string_view key) const;
    Result<uint64_t> get_uint(std::string_view key) const;   // any integer type, non-negative
    Result<int64_t> get_int(std::string_view key) const;
    Result<double> get_float(std::string_view key) const;    // float or integer types
    Result<bool> get_bool(std::string_view key) const;
    Result<std::vector<std::string>> get_string_array(std::string_view key) const;
    Result<std::vector<float>> get_f32_array(std::string_view key) const;
    Result<std::vector<int32_t>> get_i32_array(std::string_view key) const;
    // Same, with a default when the key is absent (a present key of the wrong type is still an Error).
    Result<std::string> get_string_or(std::string_view key, std::string fallback) const;
    Result<uint64_t> get_uint_or(std::string_view key, uint64_t fallback) const;
    Result<double> get_float_or(std::string_view key, double fallback) const;
    Result<bool> get_bool_or(std::string_view key, bool fallback) const;

    // "general.architecture", or "" when absent.
    std::string architecture() const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

private:
    Status parse_all();

    MappedFile mapping_;
    std::span<const uint8_t> bytes_;
    std::string name_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<MetadataEntry> metadata_;
    std::unordered_map<std::string, size_t> metadata_index_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace rf::gguf
