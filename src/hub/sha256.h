// SHA-256 of a file (OpenSSL), to check a download against the hub's LFS object id.
#pragma once

#include <string>

#include "core/result.h"

namespace rf::hub {

// Lowercase hex digest of the file's bytes, or an error naming the file.
Result<std::string> sha256_file(const std::string& path);

}  // namespace rf::hub
