// The store's schema and its migrations. The version lives in SQLite's `user_version`; each
// migration moves it up by one inside a transaction, so an interrupted upgrade leaves the old
// version intact. A database newer than this build is refused rather than misread.
#pragma once

#include "context/sqlite.h"

namespace rf::context {

inline constexpr int kSchemaVersion = 1;

// Brings `db` to kSchemaVersion (creating the tables of a new file).
Status migrate(Database& db);

}  // namespace rf::context
