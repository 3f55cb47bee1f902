// What users of llama.cpp type, understood here: its multi-letter single-dash options (-ngl, -ctk,
// -ctv, -sys, -np), which CLI11 would read as a one-letter option and a value ("-ngl" as "-n gl"),
// rewritten to our long spellings before parsing; and numeric options whose errors say "not a
// number" rather than "not in range" when the value is not a number at all.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rf::cli {

// argv with each llama.cpp spelling replaced by its long name here (argv[0] kept).
std::vector<std::string> translate_llama_spellings(int argc, const char* const* argv);

// A number (integer or not, as the option's type takes it) in [lo, hi].
CLI::Validator number_in(double lo, double hi);

}  // namespace rf::cli
