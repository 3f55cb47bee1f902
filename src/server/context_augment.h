// Chat augmentation from the context store: a chat request with
//   "context": {"namespace": NS, "top_k": 4, "max_tokens": 1024, "store": false}
// gets the stored items most similar to its last user message put in front of the conversation
// as a system message (merged into a leading system message; items taken best first while they
// fit `max_tokens`), and, with "store": true, the user message and the reply stored afterwards
// (the reply as a message replying to it). The response reports what was used in "context".
// Built without ROCMFORGE_CONTEXT (context_augment_off.cpp), a "context" field is a 400.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace rf::context {
class ContextStore;
}

namespace rf::server {

struct Augmentation {
    std::string body = {};            // the request body to parse: the system message added, "context" removed
    nlohmann::json report = {};       // {"namespace", "used": [{"id", "score"}...], "tokens"}
    std::string ns = {};
    bool store = false;
    std::string user_text = {};       // the last user message
};

// Whether the body names a "context" field at all (cheap: looks before parsing).
inline bool mentions_context(std::string_view body) { return body.find("\"context\"") != std::string_view::npos; }

std::variant<Augmentation, ApiError> augment_chat(std::string_view body, context::ContextStore& store,
                                                  const tokenizer::Tokenizer& tokenizer);

// Stores the user message and the reply (after a successful response with "store": true).
Status store_exchange(context::ContextStore& store, const Augmentation& augmentation, const std::string& reply);

}  // namespace rf::server
