#include "backend/cuda/nccl_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>

namespace rf::gpu {

Result<NcclLibrary> NcclLibrary::load(const std::string& path) {
    // Kept open once accepted (communicators may live until the process ends); closed if refused.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* why = dlerror();
        return make_error("cannot open the NCCL library {} ({}); tensor parallelism needs NCCL 2 (CUDA's "
                          "libnccl.so.2, or ROCMFORGE_NCCL_LIBRARY=<path to it>)",
                          path, why ? why : "no reason given");
    }
    NcclLibrary lib;
    lib.path = path;
    bool missing = false;
    std::string missing_name;
    const auto resolve = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
        if (!fn && !missing) {
            missing = true;
            missing_name = name;
        }
    };
    resolve(lib.get_version, "ncclGetVersion");
    resolve(lib.error_string, "ncclGetErrorString");
    resolve(lib.comm_init_all, "ncclCommInitAll");
    resolve(lib.comm_destroy, "ncclCommDestroy");
    resolve(lib.comm_abort, "ncclCommAbort");
    resolve(lib.comm_async_error, "ncclCommGetAsyncError");
    resolve(lib.all_reduce, "ncclAllReduce");
    resolve(lib.group_start, "ncclGroupStart");
    resolve(lib.group_end, "ncclGroupEnd");
    Error refused;
    if (missing) refused = make_error("the NCCL library {} lacks {}", path, missing_name);
    else if (lib.get_version(&lib.version) != ncclSuccess) refused = make_error("the NCCL library {} gives no version", path);
    // The header's types must describe the library: the same major version (2), 2.9 or later (whose
    // version codes count minor versions by hundreds; older ones are refused as "0.x").
    else if (lib.version / 10000 != NCCL_MAJOR)
        refused = make_error("the NCCL library {} is version {} (code {}); this build wants NCCL {}.9 or later", path,
                             lib.version_text(), lib.version, NCCL_MAJOR);
    else return lib;
    dlclose(handle);
    return refused;
}

Result<const NcclLibrary*> NcclLibrary::open() {
    static const Result<NcclLibrary> loaded = [] {
        const char* env = std::getenv("ROCMFORGE_NCCL_LIBRARY");
        return load(env && *env ? env : "libnccl.so.2");
    }();
    if (!loaded.ok()) return loaded.error();
    return &loaded.value();
}

std::string NcclLibrary::version_text() const {
    return fmt::format("{}.{}.{}", version / 10000, version / 100 % 100, version % 100);
}

Status NcclLibrary::check(ncclResult_t result, const std::string& what) const {
    if (result == ncclSuccess) return ok_status();
    return make_error("{}: {} (NCCL error {})", what, error_string(result), static_cast<int>(result));
}

}  // namespace rf::gpu
