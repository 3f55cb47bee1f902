// Locates ../shared, the reference data conformance tests compare against. When it is absent the
// conformance tests skip with a message saying so (CI refuses to run without it, see .ci/run).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace rf::test {

inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("ROCMFORGE_SHARED_DIR")) return env;
    return ROCMFORGE_SHARED_DIR;
}

inline std::filesystem::path shared_path(const std::string& relative) { return shared_dir() / relative; }

inline bool shared_available() { return std::filesystem::is_directory(shared_dir() / "quant"); }

}  // namespace rf::test

// Skips the current test, loudly, when the reference data is missing.
#define RF_REQUIRE_SHARED()                                                                  \
    do {                                                                                     \
        if (!::rf::test::shared_available())                                                 \
            GTEST_SKIP() << "CONFORMANCE SKIPPED: reference data not found at "              \
                         << ::rf::test::shared_dir() << " (set ROCMFORGE_SHARED_DIR)";       \
    } while (0)
