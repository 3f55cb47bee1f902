#include "core/mapped_file.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "core/huge_pages.h"

namespace rf {
namespace {

// Reads all of fd into memory on huge pages, `lead` bytes into the allocation; the allocation, or
// nullptr (errno set) when that fails.
uint8_t* read_copy(int fd, size_t size, size_t lead, const MappedFile::Progress& progress) {
    HugePageBytes allocation = allocate_huge_pages(lead + size);
    if (!allocation) return nullptr;
    uint8_t* memory = allocation.get() + lead;
    posix_fadvise(fd, 0, static_cast<off_t>(size), POSIX_FADV_SEQUENTIAL);
    constexpr size_t kChunk = size_t{64} << 20;
    auto last_report = std::chrono::steady_clock::now();
    for (size_t done = 0; done < size;) {
        const ssize_t n = pread(fd, memory + done, std::min(kChunk, size - done), static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n == 0 ? EIO : errno;  // 0: the file shrank while we read it
            allocation.reset();
            errno = err;
            return nullptr;
        }
        done += static_cast<size_t>(n);
        const auto now = std::chrono::steady_clock::now();
        if (progress && (done == size || now - last_report > std::chrono::milliseconds(250))) {
            progress(done, size);
            last_report = now;
        }
    }
    return allocation.release();
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path, FileLoad load, const Progress& progress,
                                    size_t aligned_offset) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error("{}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return make_error("{}: cannot stat: {}", path, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error("{}: not a regular file", path);
    }
    MappedFile file;
    file.path_ = path;
    file.size_ = static_cast<size_t>(st.st_size);
    // A copy only while it leaves a tenth of the free memory: else the mapping, which pages.
    const size_t available = available_memory();
    if (load == FileLoad::Copy && file.size_ > 0 && available > 0 && file.size_ < available / 10 * 9) {
        const size_t lead = (64 - aligned_offset % 64) % 64;
        if (uint8_t* allocation = read_copy(fd, file.size_, lead, progress)) {
            ::close(fd);
            file.data_ = allocation + lead;
            file.lead_ = lead;
            file.copied_ = true;
            return file;
        }
        if (errno != ENOMEM) {
            int err = errno;
            ::close(fd);
            return make_error("{}: cannot read: {}", path, std::strerror(err));
        }
    }
    if (file.size_ > 0) {
        void* p = mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            return make_error("{}: cannot mmap {} bytes: {}", path, file.size_, std::strerror(err));
        }
        file.data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        lead_ = std::exchange(other.lead_, 0);
        copied_ = std::exchange(other.copied_, false);
        path_ = std::move(other.path_);
    }
    return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
    if (data_ != nullptr) {
        if (copied_)
            std::free(const_cast<uint8_t*>(data_ - lead_));
        else
            munmap(const_cast<uint8_t*>(data_), size_);
    }
    data_ = nullptr;
    size_ = 0;
    lead_ = 0;
    copied_ = false;
}

}  // namespace rf
