// The streaming detokenizer holds back incomplete characters and matches batch decoding.
#include <gtest/gtest.h>

#include "synthetic_vocab.h"
#include "tokenizer/stream_decoder.h"

namespace rf::tokenizer::test {
namespace {

int32_t byte_token(uint8_t b) { return 3 + b; }

TEST(StreamDecoder, HoldsBackAPartialCharacter) {
    auto tok = spm_tokenizer({{"\xE2\x96\x81" "a", -1}});
    StreamDecoder stream(tok);
    EXPECT_EQ(stream.push(kFirstSpmExtra), "a");  // leading space dropped, as in batch decoding
    EXPECT_EQ(stream.push(byte_token(0xE6)), "");
    EXPECT_TRUE(stream.has_pending());
    EXPECT_EQ(stream.push(byte_token(0x97)), "");
    EXPECT_EQ(stream.push(byte_token(0xA5)), "\xE6\x97\xA5");
    EXPECT_FALSE(stream.has_pending());
    EXPECT_EQ(stream.finish(), "");
}

TEST(StreamDecoder, BytesThatCanNeverFormACharacterBecomeReplacements) {
    auto tok = spm_tokenizer({});
    StreamDecoder stream(tok);
    EXPECT_EQ(stream.push(byte_token(0xFF)), "\xEF\xBF\xBD");
    EXPECT_EQ(stream.push(byte_token(0xE6)), "");
    // 'A' cannot continue the held sequence: the held byte is replaced, 'A' comes through.
    EXPECT_EQ(stream.push(byte_token('A')), "\xEF\xBF\xBD" "A");
    EXPECT_EQ(stream.push(byte_token(0xF0)), "");
    EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

TEST(StreamDecoder, SpecialTokensFollowTheOptions) {
    auto tok = spm_tokenizer({{"\xE2\x96\x81" "a", -1}});
    StreamDecoder hidden(tok);
    EXPECT_EQ(hidden.push(1), "");
    StreamDecoder shown(tok, {.show_special = true});
    EXPECT_EQ(shown.push(1), "<s>");
    EXPECT_EQ(shown.push(kFirstSpmExtra), "a");
    StreamDecoder continuation(tok, {.strip_space_prefix = false});
    EXPECT_EQ(continuation.push(kFirstSpmExtra), " a");
    continuation.reset();
    EXPECT_EQ(continuation.push(byte_token(0xE6)), "");
    continuation.reset();
    EXPECT_FALSE(continuation.has_pending());
}

}  // namespace
}  // namespace rf::tokenizer::test
