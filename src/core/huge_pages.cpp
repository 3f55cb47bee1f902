#include "core/huge_pages.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/mman.h>

namespace rf {

void FreeDeleter::operator()(void* p) const { std::free(p); }

HugePageBytes allocate_huge_pages(size_t size) {
    const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    HugePageBytes memory(static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded)));
    if (memory) madvise(memory.get(), rounded, MADV_HUGEPAGE);  // advice only
    return memory;
}

size_t available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        unsigned long long kib = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kib) == 1) return static_cast<size_t>(kib) * 1024;
    }
    return 0;
}

}  // namespace rf
