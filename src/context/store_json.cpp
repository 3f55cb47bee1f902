#include "context/store_json.h"

namespace rf::context {

using nlohmann::json;

json node_json(const Node& n) {
    json metadata = json::parse(n.metadata, nullptr, false);
    if (metadata.is_discarded()) metadata = json::object();
    return {{"id", n.id},
            {"namespace", n.ns},
            {"kind", node_kind_name(n.kind)},
            {"role", n.role.empty() ? json(nullptr) : json(n.role)},
            {"text", n.text},
            {"metadata", std::move(metadata)},
            {"created_at", n.created_ms},
            {"updated_at", n.updated_ms}};
}

json hit_json(const SearchHit& hit) {
    json j = node_json(hit.node);
    j["score"] = hit.score;
    if (hit.document) j["document"] = *hit.document;
    return j;
}

json detail_json(const NodeDetail& d) {
    json j = node_json(d.node);
    json edges = json::array();
    for (const Edge& e : d.edges) edges.push_back({{"src", e.src}, {"dst", e.dst}, {"kind", edge_kind_name(e.kind)}});
    j["edges"] = std::move(edges);
    return j;
}

json added_json(const Added& a) { return {{"id", a.id}, {"chunks", a.chunks}, {"tokens", a.tokens}}; }

}  // namespace rf::context
