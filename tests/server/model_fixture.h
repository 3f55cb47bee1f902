// The tokenizer of a small reference model (../shared), loaded once per test program, and the
// ModelContext the request parser needs.
#pragma once

#include <memory>

#include "gguf/reader.h"
#include "server/openai_request.h"
#include "support/shared_data.h"
#include "template/chat.h"
#include "tokenizer/tokenizer.h"

namespace rf::test {

inline const char* const kServerModel = "models/llama-gqa-q4_0.gguf";

inline const tokenizer::Tokenizer* shared_tokenizer() {
    static std::unique_ptr<tokenizer::Tokenizer> tok = [] {
        std::unique_ptr<tokenizer::Tokenizer> t;
        if (!shared_available()) return t;
        auto file = gguf::File::open(shared_path(kServerModel).string());
        if (!file) return t;
        auto loaded = tokenizer::Tokenizer::from_gguf(*file);
        if (loaded) t = std::make_unique<tokenizer::Tokenizer>(std::move(*loaded));
        return t;
    }();
    return tok.get();
}

inline server::ModelContext model_context(int64_t n_ctx = 256) {
    return {.tokenizer = shared_tokenizer(), .chat_template = tmpl::kDefaultChatTemplate, .n_ctx = n_ctx, .max_n = 8};
}

}  // namespace rf::test
