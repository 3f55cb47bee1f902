// Reads a whole file into memory (prompts, templates, JSON inputs); the Error names the file.
#pragma once

#include <string>

#include "core/result.h"

namespace rf {

Result<std::string> read_text_file(const std::string& path);

}  // namespace rf
