#include "cli/cli_habits.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace rf::cli {

std::vector<std::string> translate_llama_spellings(int argc, const char* const* argv) {
    struct Spelling {
        std::string_view llama, ours;
    };
    static constexpr Spelling kSpellings[] = {
        {"-ngl", "--n-gpu-layers"}, {"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"},
        {"-sys", "--system-prompt"}, {"-np", "--parallel"},
    };
    std::vector<std::string> args;
    args.reserve(static_cast<size_t>(argc));
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        for (const Spelling& s : kSpellings)
            if (i > 0 && arg == s.llama) arg = s.ours;
        args.emplace_back(arg);
    }
    return args;
}

CLI::Validator number_in(double lo, double hi) {
    return CLI::Validator(
        [lo, hi](const std::string& value) -> std::string {
            errno = 0;
            char* end = nullptr;
            const double v = std::strtod(value.c_str(), &end);
            if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE)
                return fmt::format("'{}' is not a number", value);
            if (!(v >= lo && v <= hi)) return fmt::format("{} is outside {} .. {}", value, lo, hi);
            return {};
        },
        fmt::format("NUMBER in [{} - {}]", lo, hi));
}

}  // namespace rf::cli
