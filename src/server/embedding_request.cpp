#include "server/embedding_request.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/openai_response.h"

namespace rf::server {

namespace {

using nlohmann::json;

bool is_token_array(const json& j) {
    if (!j.is_array() || j.empty()) return false;
    for (const json& t : j)
        if (!t.is_number_integer()) return false;
    return true;
}

std::variant<std::vector<int32_t>, ApiError> tokens_of(const json& item, const EmbeddingLimits& limits) {
    std::vector<int32_t> tokens;
    if (item.is_string()) {
        const std::string& text = item.get_ref<const std::string&>();
        if (text.empty()) return bad_request("'input' must not contain an empty string", "input");
        tokens = limits.tokenizer->encode(text, {.add_special = true, .parse_special = false});
    } else if (is_token_array(item)) {
        for (const json& t : item) {
            const int64_t id = t.get<int64_t>();
            if (id < 0 || id >= limits.tokenizer->n_vocab())
                return bad_request(fmt::format("token id {} is outside the vocabulary of {}", id,
                                               limits.tokenizer->n_vocab()), "input");
            tokens.push_back(static_cast<int32_t>(id));
        }
    } else {
        return bad_request("'input' must be a string, an array of strings, or (arrays of) token ids", "input");
    }
    if (tokens.empty()) return bad_request("an input has no tokens", "input");
    if (static_cast<int64_t>(tokens.size()) > limits.n_ctx)
        return bad_request(fmt::format("an input has {} tokens, more than the embedding context of {}", tokens.size(),
                                       limits.n_ctx), "input", "context_length_exceeded");
    return tokens;
}

}  // namespace

std::variant<EmbeddingRequest, ApiError> parse_embedding_request(std::string_view body, const EmbeddingLimits& limits) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");
    if (!j.contains("input")) return bad_request("'input' is required", "input");
    EmbeddingRequest r;
    if (j.contains("encoding_format")) {
        const json& f = j["encoding_format"];
        if (f != "float" && f != "base64")
            return bad_request("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
        r.base64 = f == "base64";
    }
    if (j.contains("dimensions") && !j["dimensions"].is_null()) {
        const json& d = j["dimensions"];
        if (!d.is_number_integer() || d.get<int64_t>() != limits.dimension)
            return bad_request(fmt::format("'dimensions' must be this model's embedding width, {}", limits.dimension),
                               "dimensions");
    }
    const json& input = j["input"];
    std::vector<const json*> items;
    if (input.is_string() || is_token_array(input)) {
        items.push_back(&input);
    } else if (input.is_array() && !input.empty()) {
        for (const json& item : input) items.push_back(&item);
    } else {
        return bad_request("'input' must be a non-empty string, array of strings, or (arrays of) token ids", "input");
    }
    if (items.size() > limits.max_inputs)
        return bad_request(fmt::format("'input' has {} items, more than {}", items.size(), limits.max_inputs), "input");
    for (const json* item : items) {
        auto tokens = tokens_of(*item, limits);
        if (auto* e = std::get_if<ApiError>(&tokens)) return *e;
        r.inputs.push_back(std::move(std::get<0>(tokens)));
    }
    return r;
}

std::string base64_floats(std::span<const float> values) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes(values.size() * sizeof(float), '\0');
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t bits = std::bit_cast<uint32_t>(values[i]);
        for (size_t b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);  // little-endian
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) chunk |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[(chunk >> 18) & 63];
        out += kAlphabet[(chunk >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=';
    }
    return out;
}

std::string embedding_response(const std::vector<std::vector<float>>& vectors, bool base64, const std::string& model,
                               int64_t prompt_tokens) {
    json data = json::array();
    for (size_t i = 0; i < vectors.size(); ++i) {
        json item{{"object", "embedding"}, {"index", i}};
        if (base64) item["embedding"] = base64_floats(vectors[i]);
        else item["embedding"] = vectors[i];
        data.push_back(std::move(item));
    }
    return dump({{"object", "list"},
                 {"data", std::move(data)},
                 {"model", model},
                 {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}});
}

}  // namespace rf::server
