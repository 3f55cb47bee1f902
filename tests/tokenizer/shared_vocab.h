// Loading the reference vocabularies and their test vectors from ../shared/tokenizer.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/reader.h"
#include "support/shared_data.h"
#include "tokenizer/tokenizer.h"

namespace rf::tokenizer::test {

// Every vocabulary file shipped in shared/tokenizer, by NAME in ggml-vocab-NAME.gguf.
inline const std::vector<std::string>& all_vocab_names() {
    static const std::vector<std::string> names = {"baichuan",   "bert-bge",  "deepseek-coder", "deepseek-llm",
                                                   "gpt-2",      "gpt-neox",  "llama-spm",      "phi-3"};
    return names;
}

inline std::string vocab_path(const std::string& name) {
    return rf::test::shared_path("tokenizer/ggml-vocab-" + name + ".gguf").string();
}

inline std::optional<std::string> read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Loads a tokenizer from a GGUF file, failing the current test (and returning nullopt) on error.
inline std::optional<Tokenizer> load_tokenizer(const std::string& path) {
    auto file = gguf::File::open(path);
    if (!file.ok()) {
        ADD_FAILURE() << file.error().message;
        return std::nullopt;
    }
    auto tokenizer = Tokenizer::from_gguf(*file);
    if (!tokenizer.ok()) {
        ADD_FAILURE() << tokenizer.error().message;
        return std::nullopt;
    }
    return std::move(tokenizer).value();
}

inline EncodeOptions raw_encoding() { return {.add_special = false, .parse_special = false}; }

}  // namespace rf::tokenizer::test
