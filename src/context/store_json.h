// The JSON shapes of stored nodes, search hits and node details, shared by `rocmforge context
// --json` and the /v1/context routes so that both print the same thing.
#pragma once

#include <nlohmann/json.hpp>

#include "context/store.h"

namespace rf::context {

// {"id", "namespace", "kind", "role" (null unless a message), "text", "metadata" (object),
//  "created_at", "updated_at" (Unix milliseconds)}
nlohmann::json node_json(const Node& node);
// node_json plus "score" and, for a chunk, "document" (the id of the document it is part of).
nlohmann::json hit_json(const SearchHit& hit);
// node_json plus "edges": [{"src", "dst", "kind"}].
nlohmann::json detail_json(const NodeDetail& detail);
// {"id", "chunks", "tokens"}
nlohmann::json added_json(const Added& added);

}  // namespace rf::context
