// POST /v1/embeddings: the inputs embedded by the server's embedder: with the served model, by the
// scheduler in the same steps as generation (all inputs of a request at once); with a separate
// embedding model, by its own engine between the scheduler's steps.
#include <fmt/format.h>

#include "server/embedding_request.h"
#include "server/server_impl.h"

namespace rf::server {

namespace {

void embeddings(Server::Impl& s, const HttpRequest& req, HttpResponse& res) {
    if (!s.ready) return send_error(res, not_ready(s));
    engine::TextEmbedder& embedder = *s.options.embedder;
    auto parsed = parse_embedding_request(req.body, {.tokenizer = &embedder.tokenizer(),
                                                     .dimension = embedder.dimension(),
                                                     .n_ctx = embedder.n_ctx()});
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    const EmbeddingRequest& r = std::get<EmbeddingRequest>(parsed);
    auto vectors = embedder.embed_many(r.inputs);
    if (!vectors.ok()) {
        // Inputs cut short by a shutdown are the server's unavailability, not a failure (503); a
        // full queue (transient) answers 429, as for generation.
        if (s.stopping) return send_error(res, not_ready(s));
        return send_error(res, server_failure("embedding failed: ", vectors.error().message, vectors.error().transient));
    }
    int64_t tokens = 0;
    for (const std::vector<int32_t>& input : r.inputs) tokens += static_cast<int64_t>(input.size());
    send_json(res, embedding_response(*vectors, r.base64, s.options.embedding_model_id.empty()
                                                             ? s.options.model_id
                                                             : s.options.embedding_model_id,
                                      tokens));
}

}  // namespace

void add_embedding_routes(Server::Impl& s) {
    s.http.Post("/v1/embeddings", [&s](const HttpRequest& req, HttpResponse& res) {
        if (!s.options.embedder)
            return send_error(res, {.status = 404, .message = "this server computes no embeddings",
                                    .type = "not_found_error", .code = "embeddings_disabled"});
        embeddings(s, req, res);
    });
}

}  // namespace rf::server
