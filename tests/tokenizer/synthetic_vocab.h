// Small in-memory vocabularies for unit tests that must not depend on ../shared.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace rf::tokenizer::test {

struct TokenSpec {
    std::string text;
    float score = 0.0f;
    TokenKind kind = TokenKind::Normal;
};

inline Tokenizer build_tokenizer(VocabKind kind, const std::vector<TokenSpec>& specs,
                                 const std::vector<std::string>& merges = {}, std::string pre = "gpt-2") {
    Vocab vocab;
    vocab.kind = kind;
    vocab.pre = std::move(pre);
    for (const TokenSpec& t : specs) {
        vocab.tokens.push_back(t.text);
        vocab.scores.push_back(t.score);
        vocab.kinds.push_back(t.kind);
    }
    vocab.add_space_prefix = kind == VocabKind::Spm;
    vocab.add_bos = kind == VocabKind::Spm;
    EXPECT_TRUE(finish_vocab(vocab, merges).ok());
    auto tokenizer = Tokenizer::from_vocab(std::move(vocab));
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.error().message;
    return std::move(tokenizer).value();
}

// <unk> <s> </s>, the 256 byte tokens (ids 3..258), then `extra`.
inline Tokenizer spm_tokenizer(const std::vector<TokenSpec>& extra) {
    std::vector<TokenSpec> specs = {{"<unk>", 0, TokenKind::Unknown}, {"<s>", 0, TokenKind::Control},
                                    {"</s>", 0, TokenKind::Control}};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        specs.push_back({name, 0, TokenKind::Byte});
    }
    specs.insert(specs.end(), extra.begin(), extra.end());
    return build_tokenizer(VocabKind::Spm, specs);
}

inline constexpr int32_t kFirstSpmExtra = 259;

// The 256 byte-level characters (id = byte), then `extra`, with merges.
inline Tokenizer bpe_tokenizer(const std::vector<TokenSpec>& extra, const std::vector<std::string>& merges,
                               std::string pre = "gpt-2") {
    std::vector<TokenSpec> specs;
    for (int b = 0; b < 256; ++b) specs.push_back({byte_level_chars()[static_cast<size_t>(b)]});
    specs.insert(specs.end(), extra.begin(), extra.end());
    return build_tokenizer(VocabKind::Bpe, specs, merges, std::move(pre));
}

}  // namespace rf::tokenizer::test
