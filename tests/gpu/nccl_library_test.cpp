// NCCL opened at run time (tensor parallelism; backend/cuda/nccl_library.h): the toolkit's library
// is found and matches the header it was compiled against, and a missing one is an error that
// says what to do. Needs no GPU.
#include <gtest/gtest.h>

#include "backend/cuda/nccl_library.h"

namespace rf::gpu {
namespace {

TEST(NcclLibrary, OpensTheToolkitsLibraryOfTheHeadersVersion) {
    const Result<const NcclLibrary*> lib = NcclLibrary::open();
    ASSERT_TRUE(lib.ok()) << lib.error().message;
    EXPECT_EQ((*lib)->version / 10000, NCCL_MAJOR);
    EXPECT_EQ((*lib)->version_text().rfind(std::to_string(NCCL_MAJOR) + ".", 0), 0u) << (*lib)->version_text();
    EXPECT_EQ(NcclLibrary::open().value(), *lib) << "opened once per process";
}

TEST(NcclLibrary, ResultsBecomeStatusesWithNcclsOwnText) {
    const Result<const NcclLibrary*> lib = NcclLibrary::open();
    ASSERT_TRUE(lib.ok()) << lib.error().message;
    EXPECT_TRUE((*lib)->check(ncclSuccess, "all-reduce").ok());
    const Status bad = (*lib)->check(ncclInvalidArgument, "all-reduce of layer 3");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("all-reduce of layer 3: "), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find((*lib)->error_string(ncclInvalidArgument)), std::string::npos) << bad.error().message;
}

TEST(NcclLibrary, AMissingLibraryIsAnErrorThatSaysWhatToDo) {
    const Result<NcclLibrary> lib = NcclLibrary::load("/nonexistent/libnccl.so.2");
    ASSERT_FALSE(lib.ok());
    EXPECT_NE(lib.error().message.find("/nonexistent/libnccl.so.2"), std::string::npos) << lib.error().message;
    EXPECT_NE(lib.error().message.find("ROCMFORGE_NCCL_LIBRARY"), std::string::npos) << lib.error().message;
}

TEST(NcclLibrary, ALibraryWithoutNcclsFunctionsIsRefused) {
    const Result<NcclLibrary> lib = NcclLibrary::load("libc.so.6");
    ASSERT_FALSE(lib.ok());
    EXPECT_NE(lib.error().message.find("lacks ncclGetVersion"), std::string::npos) << lib.error().message;
}

}  // namespace
}  // namespace rf::gpu
