// Chat augmentation in a build without the context store (ROCMFORGE_CONTEXT off).
#include "server/context_augment.h"

namespace rf::server {

std::variant<Augmentation, ApiError> augment_chat(std::string_view, context::ContextStore&, const tokenizer::Tokenizer&) {
    return bad_request("'context' needs a build with the context store (ROCMFORGE_CONTEXT)", "context");
}

Status store_exchange(context::ContextStore&, const Augmentation&, const std::string&) {
    return make_error("this build has no context store");
}

}  // namespace rf::server
