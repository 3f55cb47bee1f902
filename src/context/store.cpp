#include "context/store.h"

#include <filesystem>

#include <nlohmann/json.hpp>

namespace rf::context {

ContextStore::ContextStore(NodeStore store, engine::TextEmbedder& embedder, std::string dir, std::string model,
                           StoreOptions o)
    : store_(std::move(store)),
      embedder_(embedder),
      model_(model),
      options_(o),
      indexes_(std::move(dir), std::move(model), embedder.dimension(), o.hnsw) {}

Result<std::unique_ptr<ContextStore>> ContextStore::open(const std::string& dir, engine::TextEmbedder& embedder,
                                                         std::string model, StoreOptions o) {
    RF_TRY(check_chunk_options(o.chunks));
    if (o.chunks.tokens + 2 > embedder.n_ctx())
        return make_error("chunks of {} tokens (plus special tokens) do not fit the embedding context of {}",
                          o.chunks.tokens, embedder.n_ctx());
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error("cannot create the context store directory {}: {}", dir, ec.message());
    RF_ASSIGN_OR_RETURN(NodeStore store, NodeStore::open((std::filesystem::path(dir) / "context.db").string()));
    return std::unique_ptr<ContextStore>(new ContextStore(std::move(store), embedder, dir, std::move(model), o));
}

Result<std::vector<std::string>> ContextStore::namespaces() {
    std::shared_lock read(rw_);
    return store_.namespaces();
}

Result<bool> ContextStore::has_namespace(std::string_view ns) {
    RF_TRY(check_namespace(ns));
    std::shared_lock read(rw_);
    return store_.exists(ns);
}

Status ContextStore::require_namespace(std::string_view ns) {
    RF_ASSIGN_OR_RETURN(bool known, has_namespace(ns));
    if (!known) return make_error("unknown namespace '{}': nothing was added to it", ns);
    return ok_status();
}

Result<Added> ContextStore::add(std::string_view ns, const AddRequest& r) {
    RF_TRY(check_namespace(ns));
    if (r.text.find_first_not_of(" \t\r\n") == std::string::npos) return make_error("the text is empty");
    if (r.kind == NodeKind::Chunk) return make_error("chunks are made by the store, not added");
    const nlohmann::json metadata = nlohmann::json::parse(r.metadata.empty() ? "{}" : r.metadata, nullptr, false);
    if (!metadata.is_object()) return make_error("metadata must be a JSON object");
    // Embed first, outside the write lock: it is the slow part.
    const tokenizer::Tokenizer& tok = embedder_.tokenizer();
    const std::vector<int32_t> tokens = tok.encode(r.text, {.add_special = false, .parse_special = false});
    std::vector<TokenRange> ranges = chunk_ranges(tokens.size(), options_.chunks);
    const bool whole = ranges.size() <= 1;
    std::vector<std::string> texts;
    std::vector<float> vectors;  // one after another, dimension floats each
    if (whole) {
        texts.push_back(r.text);
    } else {
        for (const TokenRange& c : ranges)
            texts.push_back(chunk_text(tok, std::span(tokens).subspan(c.begin, c.end - c.begin)));
    }
    const auto d = static_cast<size_t>(embedder_.dimension());
    std::vector<std::vector<int32_t>> inputs;
    for (const std::string& t : texts) inputs.push_back(embedder_.tokenize(t));
    RF_ASSIGN_OR_RETURN(std::vector<std::vector<float>> embedded, embedder_.embed_many(inputs));  // batched where it can
    vectors.reserve(texts.size() * d);
    for (const std::vector<float>& v : embedded) {
        if (v.size() != d) return make_error("the embedder gave {} floats, not {}", v.size(), d);
        vectors.insert(vectors.end(), v.begin(), v.end());
    }
    auto vector_of = [&](size_t i) { return std::span<const float>(vectors).subspan(i * d, d); };

    std::lock_guard lock(write_mu_);
    Added added{.tokens = static_cast<int64_t>(tokens.size())};
    std::vector<int64_t> embedded_ids;
    int64_t before = 0, after = 0;
    {
        std::unique_lock write(rw_);
        RF_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
        if (r.reply_to) {
            RF_ASSIGN_OR_RETURN(std::optional<Node> target, store_.node(ns, *r.reply_to));
            if (!target) return make_error("reply_to: no node {} in namespace '{}'", *r.reply_to, ns);
        }
        RF_ASSIGN_OR_RETURN(before, store_.revision(ns, model_));
        RF_ASSIGN_OR_RETURN(added.id, store_.add_node(ns, r.kind, r.role, r.text, metadata.dump()));
        if (r.reply_to) RF_TRY(store_.add_edge(added.id, *r.reply_to, EdgeKind::ReplyTo));
        if (whole) {
            RF_TRY(store_.put_embedding(added.id, model_, vector_of(0)));
            embedded_ids.push_back(added.id);
        } else {
            for (size_t i = 0; i < texts.size(); ++i) {
                RF_ASSIGN_OR_RETURN(int64_t chunk, store_.add_node(ns, NodeKind::Chunk, "", texts[i], "{}"));
                RF_TRY(store_.add_edge(chunk, added.id, EdgeKind::PartOf));
                RF_TRY(store_.put_embedding(chunk, model_, vector_of(i)));
                embedded_ids.push_back(chunk);
            }
            added.chunks = static_cast<int64_t>(texts.size());
        }
        RF_TRY(store_.bump_revisions(ns, model_));
        RF_ASSIGN_OR_RETURN(after, store_.revision(ns, model_));
        RF_TRY(tx.commit());
    }
    // Committed: the add is durable. The index follows; where that fails (or the process dies
    // first) its revision is behind and it is rebuilt from the database on its next use.
    follow_write(ns, before, after, [&](VectorIndex& index) { return index.add_many(embedded_ids, vectors); });
    return added;
}

Result<std::vector<SearchHit>> ContextStore::search(std::string_view ns, std::string_view query, int64_t k) {
    RF_TRY(require_namespace(ns));
    if (k <= 0 || k > 1000) return make_error("k must be in [1, 1000], not {}", k);
    if (query.find_first_not_of(" \t\r\n") == std::string_view::npos) return make_error("the query is empty");
    RF_ASSIGN_OR_RETURN(std::vector<float> q, embedder_.embed_text(query));
    std::shared_lock read(rw_);
    RF_ASSIGN_OR_RETURN(int64_t revision, store_.revision(ns, model_));
    RF_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndex> index, indexes_.current(store_, ns, revision));
    RF_ASSIGN_OR_RETURN(std::vector<Hit> hits, index->search(q, k));
    std::vector<SearchHit> out;
    for (const Hit& h : hits) {
        RF_ASSIGN_OR_RETURN(std::optional<Node> node, store_.node(ns, h.id));
        if (!node) continue;  // deleted by another process since the index was read
        SearchHit hit{.node = std::move(*node), .score = h.score, .document = std::nullopt};
        if (hit.node.kind == NodeKind::Chunk) {
            RF_ASSIGN_OR_RETURN(std::vector<Edge> edges, store_.edges(h.id));
            for (const Edge& e : edges)
                if (e.kind == EdgeKind::PartOf && e.src == h.id) hit.document = e.dst;
        }
        out.push_back(std::move(hit));
    }
    return out;
}

Result<std::vector<Node>> ContextStore::list(std::string_view ns, int64_t limit, int64_t offset) {
    RF_TRY(require_namespace(ns));
    if (limit <= 0 || offset < 0) return make_error("limit must be positive and offset not negative");
    std::shared_lock read(rw_);
    return store_.list(ns, limit, offset);
}

Result<NodeDetail> ContextStore::show(std::string_view ns, int64_t id) {
    RF_TRY(require_namespace(ns));
    std::shared_lock read(rw_);
    RF_ASSIGN_OR_RETURN(std::optional<Node> node, store_.node(ns, id));
    if (!node) return make_error("no node {} in namespace '{}'", id, ns);
    RF_ASSIGN_OR_RETURN(std::vector<Edge> edges, store_.edges(id));
    return NodeDetail{std::move(*node), std::move(edges)};
}

// The index of the revision before a write, in memory or saved, takes the write incrementally;
// without one it is built once from the database, which holds the write already.
void ContextStore::follow_write(std::string_view ns, int64_t before, int64_t after,
                                const std::function<Status(VectorIndex&)>& apply) {
    auto followed = indexes_.follow(ns, before, after, apply);
    if (followed.ok() && *followed) return;
    std::shared_lock read(rw_);
    (void)indexes_.current(store_, ns, after);
}

Result<int64_t> ContextStore::remove(std::string_view ns, int64_t id) {
    RF_TRY(require_namespace(ns));
    std::lock_guard lock(write_mu_);
    std::vector<int64_t> ids;
    int64_t before = 0, after = 0;
    {
        std::unique_lock write(rw_);
        RF_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
        RF_ASSIGN_OR_RETURN(before, store_.revision(ns, model_));
        RF_ASSIGN_OR_RETURN(ids, store_.delete_node(ns, id));
        if (ids.empty()) return make_error("no node {} in namespace '{}'", id, ns);
        RF_ASSIGN_OR_RETURN(after, store_.revision(ns, model_));
        RF_TRY(tx.commit());
    }
    follow_write(ns, before, after, [&](VectorIndex& index) {
        for (int64_t gone : ids) index.remove(gone);
        return ok_status();
    });
    return static_cast<int64_t>(ids.size());
}

Result<int64_t> ContextStore::clear(std::string_view ns) {
    RF_TRY(require_namespace(ns));
    std::lock_guard lock(write_mu_);
    std::unique_lock write(rw_);
    RF_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
    RF_ASSIGN_OR_RETURN(int64_t n, store_.clear(ns));
    RF_TRY(tx.commit());
    return n;  // the index is rebuilt (empty) on its next use: its revision moved on
}

}  // namespace rf::context
