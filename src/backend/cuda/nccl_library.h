// NCCL, the collectives library of CUDA (RCCL on ROCm), opened at run time: only tensor-parallel
// runs need it, and it is large (over 200 MB), so the binaries do not load it at start and a
// machine without it still runs everything else. Compiled against the toolkit's nccl.h, so the
// functions' types are the header's; the library is libnccl.so.2 as the loader finds it, or the
// file ROCMFORGE_NCCL_LIBRARY names (a PyTorch installation's copy, for instance).
#pragma once

#include <string>

#include <nccl.h>

#include "core/result.h"

namespace rf::gpu {

struct NcclLibrary {
    decltype(&ncclGetVersion) get_version = nullptr;
    decltype(&ncclGetErrorString) error_string = nullptr;
    decltype(&ncclCommInitAll) comm_init_all = nullptr;
    decltype(&ncclCommDestroy) comm_destroy = nullptr;
    decltype(&ncclCommAbort) comm_abort = nullptr;
    decltype(&ncclCommGetAsyncError) comm_async_error = nullptr;
    decltype(&ncclAllReduce) all_reduce = nullptr;
    decltype(&ncclGroupStart) group_start = nullptr;
    decltype(&ncclGroupEnd) group_end = nullptr;
    int version = 0;   // as ncclGetVersion gives it: 22809 for 2.28.9
    std::string path;  // what was opened

    // The library, opened once per process (later calls return the same one, or the same error).
    static Result<const NcclLibrary*> open();
    // The library at `path` (a name the loader searches for, or a file), opened now.
    static Result<NcclLibrary> load(const std::string& path);
    // "2.28.9".
    std::string version_text() const;
    // An NCCL call's result as a Status: "what: NCCL error text (code N)".
    Status check(ncclResult_t result, const std::string& what) const;
};

}  // namespace rf::gpu
