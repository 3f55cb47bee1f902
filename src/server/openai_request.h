// Parsing and validating the JSON bodies of POST /v1/completions and /v1/chat/completions into
// engine requests. Unknown fields are ignored; a field of the wrong type or out of range is an
// ApiError naming it. Chat messages go through the model's chat template.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/tool_request.h"
#include "tokenizer/tokenizer.h"

namespace rf::server {

enum class Endpoint { Completions, Chat };

// What the parser needs to know about the served model.
struct ModelContext {
    const tokenizer::Tokenizer* tokenizer = nullptr;
    std::string chat_template;  // the model's tokenizer.chat_template or the default
    int64_t n_ctx = 0;
    int64_t max_n = 16;         // most choices one request may ask for
};

enum class LogprobsMode { None, Completions, Chat };

struct ParsedRequest {
    Endpoint endpoint = Endpoint::Completions;
    std::vector<std::vector<int32_t>> prompts;  // completions may carry several; chat exactly one
    engine::RequestOptions options;             // everything but the prompt
    bool seed_given = false;
    int64_t n = 1;                              // choices per prompt
    bool stream = false;
    bool include_usage = false;                 // stream_options.include_usage
    LogprobsMode logprobs = LogprobsMode::None;
    ToolUse tools;                              // chat: tools offered, and how the output is read
};

std::variant<ParsedRequest, ApiError> parse_request(Endpoint endpoint, std::string_view body,
                                                    const ModelContext& model);

// The prompt a chat request renders to (exposed for /v1/tokenize and tests).
// `tools`: what the template's `tools` variable holds (null: undefined).
std::variant<std::vector<int32_t>, ApiError> chat_prompt(const nlohmann::json& messages, const ModelContext& model,
                                                         const nlohmann::ordered_json& tools = nullptr);

}  // namespace rf::server
