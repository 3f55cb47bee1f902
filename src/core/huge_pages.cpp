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

namespace {
// A "Key: N kB" line of /proc/meminfo in bytes, or 0.
size_t meminfo_bytes(const char* pattern) {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        unsigned long long kib = 0;
        if (std::sscanf(line.c_str(), pattern, &kib) == 1) return static_cast<size_t>(kib) * 1024;
    }
    return 0;
}
}  // namespace

size_t available_memory() { return meminfo_bytes("MemAvailable: %llu kB"); }
size_t total_memory() { return meminfo_bytes("MemTotal: %llu kB"); }

}  // namespace rf
