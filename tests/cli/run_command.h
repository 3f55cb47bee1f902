// Runs the rocmforge binary from tests and captures its exit code and output.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace rf::test {

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout, plus stderr when asked
};

inline CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return result;
    std::array<char, 4096> buffer{};
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

inline std::string rocmforge(const std::string& args) { return std::string(ROCMFORGE_BIN) + " " + args; }

}  // namespace rf::test
