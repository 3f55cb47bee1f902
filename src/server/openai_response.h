// Response bodies of the OpenAI routes: whole completions, server-sent-event chunks (each
// "data: {json}\n\n", the stream ending with "data: [DONE]\n\n") and the logprobs shapes of
// both endpoints (completions: parallel arrays; chat: a list of token objects).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/scheduler.h"
#include "server/openai_request.h"
#include "server/tool_call_reader.h"
#include "server/tool_calls.h"

namespace rf::server {

struct StepLogprob {
    int32_t token = 0;
    float logprob = 0.0f;
    std::vector<engine::TokenLogprob> top = {};
};

// One choice as it accumulates from scheduler events.
struct Choice {
    int64_t index = 0;
    int64_t prompt_index = 0;  // choices of one prompt are consecutive
    std::string text = {};
    std::vector<StepLogprob> logprobs = {};
    engine::StopReason reason = engine::StopReason::MaxTokens;
    std::string error = {};  // set when the request ended by an error, a timeout or shutdown
    bool failed = false;     // the error is a failure (RequestEvent::failed), not an early end
    engine::RequestUsage usage = {};
};

struct ResponseMeta {
    std::string id;     // "cmpl-N" or "chatcmpl-N"
    std::string model;
    int64_t created = 0;  // Unix seconds
    Endpoint endpoint = Endpoint::Completions;
    LogprobsMode logprobs = LogprobsMode::None;
    const tokenizer::Tokenizer* tokenizer = nullptr;  // token text for logprobs
    // Chat with tools: outputs are read back for tool calls (tool_calls.h).
    bool parse_tool_calls = false;
    ToolFormat tool_format = ToolFormat::Generic;
    std::vector<std::string> tool_names = {};
    // Chat with "context": what the context store contributed (docs/context.md); null: nothing.
    nlohmann::json context = nullptr;
};

// "stop", "length" or "cancelled" (the last is ours: OpenAI has no word for it).
std::string_view finish_reason(engine::StopReason reason);

nlohmann::json usage_json(const engine::RequestUsage& usage);
// `text_offset` continues from `offset` (completions logprobs only).
nlohmann::json logprobs_json(const ResponseMeta& meta, std::span<const StepLogprob> steps, size_t offset = 0);

// Usage summed over choices, each prompt counted once.
engine::RequestUsage total_usage(const std::vector<Choice>& choices);

// The whole non-streamed response.
std::string completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices);

// One streamed chunk of choice `index`: new text, its tokens' logprobs, and the finish reason
// when it is the last. `first` (chat) adds the assistant role to the delta.
std::string stream_chunk(const ResponseMeta& meta, int64_t index, std::string_view text,
                         std::span<const StepLogprob> steps, std::optional<std::string_view> finish, bool first,
                         size_t text_offset = 0);
// Chat with tools, streamed as OpenAI does: the delta of one event of the choice's reader
// (tool_call_reader.h): content, a call's opening (index, id, type, name and empty arguments) or a
// fragment of its arguments.
std::string tool_event_chunk(const ResponseMeta& meta, int64_t index, const ToolCallEvent& event);
// "tool_calls" for a choice with calls that ended by itself, else finish_reason(reason).
std::string_view tool_finish_reason(engine::StopReason reason, bool made_calls);
// The chunk with no choices that carries the usage (stream_options.include_usage).
std::string usage_chunk(const ResponseMeta& meta, const engine::RequestUsage& usage);

std::string sse_event(std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// JSON text with invalid UTF-8 replaced (token pieces may split characters).
std::string dump(const nlohmann::json& j);

}  // namespace rf::server
