// Unit tests of the pieces under the encoders: the byte-level alphabet, UTF-8 helpers, the
// pre-tokenizer table and its regex splitting.
#include <set>

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/pretokenizer_table.h"
#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer {
namespace {

std::vector<std::string> split_words(const PreTokenizer& pre, std::string_view text) {
    std::vector<std::string_view> views;
    pre.split(text, views);
    return {views.begin(), views.end()};
}

TEST(ByteLevel, EveryByteHasItsOwnPrintableCharacter) {
    std::set<std::string> seen;
    for (int b = 0; b < 256; ++b) {
        const std::string& s = byte_level_chars()[static_cast<size_t>(b)];
        EXPECT_TRUE(seen.insert(s).second) << b;
        size_t pos = 0;
        uint32_t cp = next_code_point(s, pos);
        EXPECT_EQ(pos, s.size());
        EXPECT_EQ(byte_from_byte_level(cp), b);
        EXPECT_GT(cp, 32u);  // never a control character or a space
    }
    EXPECT_EQ(byte_level_chars()['A'], "A");
    EXPECT_EQ(byte_level_chars()[' '], "\xC4\xA0");   // U+0120
    EXPECT_EQ(byte_level_chars()['\n'], "\xC4\x8A");  // U+010A
}

TEST(ByteLevel, DecodeRestoresEveryByte) {
    std::string all_bytes, encoded;
    for (int b = 0; b < 256; ++b) {
        all_bytes += static_cast<char>(b);
        encoded += byte_level_chars()[static_cast<size_t>(b)];
    }
    EXPECT_EQ(decode_byte_level(encoded), all_bytes);
    // Text outside the alphabet is kept rather than dropped.
    EXPECT_EQ(decode_byte_level("\xE2\x82\xAC"), "\xE2\x82\xAC");
}

TEST(Utf8Codec, DecodesAndEncodesCodePoints) {
    for (uint32_t cp : {0x41u, 0xE9u, 0x65E5u, 0x1F680u, 0x10FFFFu}) {
        std::string s;
        append_utf8(s, cp);
        size_t pos = 0;
        EXPECT_EQ(next_code_point(s, pos), cp);
        EXPECT_EQ(pos, s.size());
    }
    size_t pos = 0;
    EXPECT_EQ(next_code_point("\xFF" "a", pos), kReplacementChar);
    EXPECT_EQ(pos, 1u);
}

TEST(Utf8Codec, RecognisesIncompletePrefixes) {
    EXPECT_TRUE(is_incomplete_utf8_prefix("\xE6"));
    EXPECT_TRUE(is_incomplete_utf8_prefix("\xE6\x97"));
    EXPECT_FALSE(is_incomplete_utf8_prefix("\xE6\x97\xA5"));  // complete
    EXPECT_FALSE(is_incomplete_utf8_prefix("\x97"));          // stray continuation byte
    EXPECT_FALSE(is_incomplete_utf8_prefix("\xE0\x80"));      // would be overlong
    EXPECT_FALSE(is_incomplete_utf8_prefix("\xF0\x9F" "a"));
    EXPECT_TRUE(is_incomplete_utf8_prefix("\xF0\x9F\x9A"));
}

TEST(PreTokenizerTable, KnowsTheRequiredNames) {
    for (const char* name : {"default", "gpt-2", "llama3", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
                             "falcon", "starcoder", "refact", "mpt", "gpt-neox", "command-r", "olmo", "dbrx",
                             "smaug-bpe", "stablelm2", "poro-chat", "viking", "jais", "tekken", "bloom"}) {
        auto pre = PreTokenizer::create(name);
        EXPECT_TRUE(pre.ok()) << name << ": " << (pre.ok() ? "" : pre.error().message);
    }
}

TEST(PreTokenizerTable, UnknownNameIsAClearError) {
    auto pre = PreTokenizer::create("no-such-pre");
    ASSERT_FALSE(pre.ok());
    EXPECT_NE(pre.error().message.find("no-such-pre"), std::string::npos);
    EXPECT_NE(pre.error().message.find("llama3"), std::string::npos);  // lists the known names
}

TEST(PreTokenizerTable, BadPatternIsAnError) {
    EXPECT_FALSE(PreTokenizer::from_patterns({"(unclosed"}).ok());
}

TEST(PreTokenizer, Gpt2SplitsWordsNumbersAndSpaces) {
    auto pre = PreTokenizer::create("gpt-2");
    ASSERT_TRUE(pre.ok());
    EXPECT_EQ(split_words(*pre, "Hello world's  x 42!!"),
              (std::vector<std::string>{"Hello", " world", "'s", " ", " x", " 42", "!!"}));
    // Unicode letters are letters (UCP), so accented and Cyrillic words stay whole.
    EXPECT_EQ(split_words(*pre, "caf\xC3\xA9 \xD0\xBC\xD0\xB8\xD1\x80"),
              (std::vector<std::string>{"caf\xC3\xA9", " \xD0\xBC\xD0\xB8\xD1\x80"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
    auto pre = PreTokenizer::create("llama3");
    ASSERT_TRUE(pre.ok());
    EXPECT_EQ(split_words(*pre, "1234567 I'M"), (std::vector<std::string>{"123", "456", "7", " I", "'M"}));
    EXPECT_TRUE(pre->whole_word_tokens());
}

TEST(PreTokenizer, SequentialPatternsKeepEverything) {
    auto pre = PreTokenizer::create("deepseek-coder");
    ASSERT_TRUE(pre.ok());
    EXPECT_EQ(split_words(*pre, "ab12\n, c"), (std::vector<std::string>{"ab", "1", "2", "\n", ",", " c"}));
}

TEST(PreTokenizer, InvalidUtf8IsKeptInPieces) {
    auto pre = PreTokenizer::create("gpt-2");
    ASSERT_TRUE(pre.ok());
    const std::string text = "ab\xFF\xC3 cd\x80";
    std::string joined;
    for (const auto& w : split_words(*pre, text)) joined += w;
    EXPECT_EQ(joined, text);
}

}  // namespace
}  // namespace rf::tokenizer
