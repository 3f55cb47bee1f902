// Memory on 2 MiB pages: for buffers that are streamed through once per token (the weights, the
// KV cache at depth), where 4 KiB pages make the read stall on page walks. Also how much memory
// the kernel could still give, which such buffers are checked against before they are filled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace rf {

struct FreeDeleter {
    void operator()(void* p) const;
};
using HugePageBytes = std::unique_ptr<uint8_t[], FreeDeleter>;

constexpr size_t kHugePage = size_t{2} << 20;

// `size` bytes (rounded up to whole huge pages), 2 MiB-aligned and advised onto huge pages;
// null when the memory is not there. Without transparent huge pages these are plain pages.
HugePageBytes allocate_huge_pages(size_t size);

// Bytes the kernel says it could give without swapping (MemAvailable), or 0 when unknown. Large
// buffers are checked against it: past it, filling them would end in the out-of-memory killer.
size_t available_memory();
// The machine's memory (MemTotal), or 0 when unknown; for reports.
size_t total_memory();

}  // namespace rf
