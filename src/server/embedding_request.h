// POST /v1/embeddings in OpenAI's shape: `input` as a string, an array of strings, an array of
// token ids or an array of such arrays; `encoding_format` "float" (default) or "base64" (each
// vector's little-endian float32 bytes); `dimensions` accepted only when it is the model's own.
// Parsing and the response body live here, apart from the route, so both are tested without HTTP.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace rf::server {

struct EmbeddingLimits {
    const tokenizer::Tokenizer* tokenizer = nullptr;
    int64_t dimension = 0;    // the model's embedding width
    int64_t n_ctx = 0;        // most tokens per input
    size_t max_inputs = 2048; // as OpenAI's limit
};

struct EmbeddingRequest {
    std::vector<std::vector<int32_t>> inputs = {};  // tokens of each input, in order
    bool base64 = false;
};

std::variant<EmbeddingRequest, ApiError> parse_embedding_request(std::string_view body, const EmbeddingLimits& limits);

// The response: {"object": "list", "data": [{"object": "embedding", "index", "embedding"}...],
// "model", "usage": {"prompt_tokens", "total_tokens"}}.
std::string embedding_response(const std::vector<std::vector<float>>& vectors, bool base64, const std::string& model,
                               int64_t prompt_tokens);

// Standard base64 (RFC 4648, padded) of the floats' little-endian bytes.
std::string base64_floats(std::span<const float> values);

}  // namespace rf::server
