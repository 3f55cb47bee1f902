// The bytes of a whole file, read-only and move-only: either mapped (pages shared with the page
// cache, nothing read up front) or loaded into the process's own memory on 2 MiB pages.
//
// Why load: generation reads every weight once per token, and through 4 KiB pages that stream
// stalls on page walks; from huge pages a TinyLlama-shaped F16 model generated 33% faster and Q4_0
// 15% (docs/performance.md). Mapping keeps memory shared between processes and needs no RAM for
// files larger than it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/result.h"

namespace rf {

enum class FileLoad {
    Map,   // mmap the file
    Copy,  // read it into anonymous memory on huge pages (falls back to Map when RAM is short)
};

class MappedFile {
public:
    // progress(done, total) is called while a copy is read, a few times a second at most. A copy
    // puts the file's byte `aligned_offset` on a 64-byte boundary (a mapping starts on a page).
    using Progress = std::function<void(size_t done, size_t total)>;
    static Result<MappedFile> open(const std::string& path, FileLoad load = FileLoad::Map,
                                   const Progress& progress = {}, size_t aligned_offset = 0);

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    bool copied() const { return copied_; }

private:
    void release();

    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    size_t lead_ = 0;  // of a copy: bytes of the allocation before data_
    bool copied_ = false;  // data_ is our own allocation, not a mapping
    std::string path_;
};

}  // namespace rf
