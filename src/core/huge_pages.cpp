#include "core/huge_pages.h"

#include <cstdlib>
#include <sys/mman.h>

namespace rf {

void FreeDeleter::operator()(void* p) const { std::free(p); }

HugePageBytes allocate_huge_pages(size_t size) {
    const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    HugePageBytes memory(static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded)));
    if (memory) madvise(memory.get(), rounded, MADV_HUGEPAGE);  // advice only
    return memory;
}

}  // namespace rf
