// Locates ../shared, the reference data conformance tests compare against. When it is absent the
// conformance tests skip with a message saying so (CI refuses to run without it, see .ci/run).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace rf::test {

inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("ROCMFORGE_SHARED_DIR")) return env;
    return ROCMFORGE_SHARED_DIR;
}

inline std::filesystem::path shared_path(const std::string& relative) { return shared_dir() / relative; }

inline bool shared_available() { return std::filesystem::is_directory(shared_dir() / "quant"); }

// The reference models (the names of ../shared/models/*.gguf, sorted), for a test parameterized by
// model; {"none"} when there are none, which such a test fails on (never an empty, silent suite).
inline std::vector<std::string> shared_model_names() {
    std::vector<std::string> names;
    const auto dir = shared_path("models");
    if (std::filesystem::is_directory(dir))
        for (const auto& entry : std::filesystem::directory_iterator(dir))
            if (entry.path().extension() == ".gguf") names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("none");
    return names;
}

// A gtest parameter name from any text: letters and digits kept, the rest '_'.
inline std::string test_name_of(std::string text) {
    std::replace_if(text.begin(), text.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
    return text;
}

}  // namespace rf::test

// Skips the current test, loudly, when the reference data is missing.
#define RF_REQUIRE_SHARED()                                                                  \
    do {                                                                                     \
        if (!::rf::test::shared_available())                                                 \
            GTEST_SKIP() << "CONFORMANCE SKIPPED: reference data not found at "              \
                         << ::rf::test::shared_dir() << " (set ROCMFORGE_SHARED_DIR)";       \
    } while (0)
