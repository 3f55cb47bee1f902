// Unit tests of the encoders and decoding on small in-memory vocabularies.
#include <algorithm>

#include <gtest/gtest.h>

#include "synthetic_vocab.h"
#include "tokenizer/wordpiece.h"

namespace rf::tokenizer::test {
namespace {

constexpr EncodeOptions kRaw{.add_special = false, .parse_special = false};
const std::string kSpace = "\xE2\x96\x81";  // U+2581

TEST(SpmEncoder, HighestScoringPairMergesFirst) {
    const int32_t a = kFirstSpmExtra, b = a + 1, c = a + 2, ab = a + 3, bc = a + 4, sp = a + 5;
    // "bc" outscores "ab", so "abc" becomes a + bc, not ab + c.
    auto tok = spm_tokenizer({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -2}, {"bc", -1}, {kSpace, -3}});
    EXPECT_EQ(tok.encode("abc", kRaw), (std::vector<int32_t>{sp, a, bc}));
    auto tok2 = spm_tokenizer({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"bc", -2}, {kSpace, -3}});
    EXPECT_EQ(tok2.encode("abc", kRaw), (std::vector<int32_t>{sp, ab, c}));
    (void)b;
}

TEST(SpmEncoder, UnknownCharactersFallBackToBytes) {
    auto tok = spm_tokenizer({{kSpace, -1}});
    // U+00E9 is not a token: its two UTF-8 bytes come out as <0xC3> <0xA9>.
    EXPECT_EQ(tok.encode("\xC3\xA9", kRaw), (std::vector<int32_t>{kFirstSpmExtra, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(tok.decode(tok.encode("\xC3\xA9", kRaw)), "\xC3\xA9");
}

TEST(SpmEncoder, AddsBosAndTheLeadingSpaceAndDecodesBack) {
    // Merges go pairwise, so "\u2581hi" needs "\u2581h" on the way.
    auto tok = spm_tokenizer({{kSpace + "hi", -1}, {kSpace, -2}, {"h", -3}, {"i", -3}, {kSpace + "h", -2}});
    auto ids = tok.encode("hi hi", {.add_special = true, .parse_special = false});
    EXPECT_EQ(ids, (std::vector<int32_t>{1, kFirstSpmExtra, kFirstSpmExtra}));
    EXPECT_EQ(tok.decode(ids), "hi hi");
    EXPECT_EQ(tok.decode(ids, {.show_special = true}), "<s>hi hi");
    EXPECT_EQ(tok.decode(ids, {.strip_space_prefix = false}), " hi hi");
    EXPECT_TRUE(tok.encode("", kRaw).empty());
}

TEST(SpmEncoder, SpecialTokensOnlyWhenParsingIsOn) {
    auto tok = spm_tokenizer({{"<|x|>", 0, TokenKind::Control}, {"<u>", 0, TokenKind::UserDefined},
                              {kSpace, -1}, {"a", -1}});
    const int32_t control = kFirstSpmExtra, user = control + 1, sp = control + 2, a = control + 3;
    auto on = tok.encode("<|x|>a", {.add_special = false, .parse_special = true});
    EXPECT_EQ(on, (std::vector<int32_t>{control, sp, a}));  // text after a special token gets the space
    auto off = tok.encode("<|x|>a", kRaw);
    EXPECT_EQ(std::count(off.begin(), off.end(), control), 0);
    EXPECT_EQ(tok.decode(off), "<|x|>a");
    // User-defined tokens are matched either way, and always shown.
    EXPECT_EQ(tok.encode("a<u>", kRaw), (std::vector<int32_t>{sp, a, user}));
    EXPECT_EQ(tok.decode(on), "a");
    EXPECT_EQ(tok.decode(on, {.show_special = true}), "<|x|>a");
}

// llama.cpp makes every token whose text marks an end of generation a control token, whatever type
// the file gives it (phi-3 files store "</s>" as user-defined), so such text stays text without
// special parsing; gpt-oss's channel markers go the other way and are always matched.
TEST(SpmEncoder, EndOfGenerationTextIsControlWhateverTheFileSays) {
    std::vector<TokenSpec> specs = {{"<unk>", 0, TokenKind::Unknown}, {"<s>", 0, TokenKind::Control},
                                    {"</s>", 0, TokenKind::UserDefined}};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        specs.push_back({name, 0, TokenKind::Byte});
    }
    specs.insert(specs.end(), {{"<|im_end|>", 0, TokenKind::Normal}, {"<u>", 0, TokenKind::UserDefined},
                               {"<|channel|>", 0, TokenKind::Control}, {kSpace, -1}, {"a", -1}});
    auto tok = build_tokenizer(VocabKind::Spm, specs);
    const int32_t eos = 2, im_end = kFirstSpmExtra, user = im_end + 1, channel = im_end + 2, sp = im_end + 3,
                  a = im_end + 4;
    EXPECT_EQ(tok.token_kind(eos), TokenKind::Control);
    EXPECT_EQ(tok.token_kind(im_end), TokenKind::Control);
    EXPECT_EQ(tok.token_kind(channel), TokenKind::UserDefined);

    auto off = tok.encode("a</s><|im_end|>", kRaw);
    EXPECT_EQ(std::count(off.begin(), off.end(), eos), 0);
    EXPECT_EQ(std::count(off.begin(), off.end(), im_end), 0);
    EXPECT_EQ(tok.decode(off), "a</s><|im_end|>");
    EXPECT_EQ(tok.encode("a</s><|im_end|>", {.add_special = false, .parse_special = true}),
              (std::vector<int32_t>{sp, a, eos, im_end}));
    // User-defined tokens (and the gpt-oss markers) are still matched without special parsing.
    EXPECT_EQ(tok.encode("a<u><|channel|>", kRaw), (std::vector<int32_t>{sp, a, user, channel}));
}

TEST(SpmEncoder, NeverProducesControlTokensFromText) {
    auto tok = spm_tokenizer({{"<", -1}, {"s", -1}, {">", -1}, {"<s", -1}, {kSpace, -1}});
    auto ids = tok.encode("<s>", kRaw);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);  // <s> is control
}

TEST(BpeEncoder, MergesByRank) {
    // ids 256.. : "ab", "bc", "abc"
    auto tok = bpe_tokenizer({{"ab"}, {"bc"}, {"abc"}}, {"b c", "a b", "a bc"});
    // "b c" has the best rank, then "a bc".
    EXPECT_EQ(tok.encode("abc", kRaw), (std::vector<int32_t>{258}));
    auto tok2 = bpe_tokenizer({{"ab"}, {"bc"}, {"abc"}}, {"a b", "b c"});
    EXPECT_EQ(tok2.encode("abc", kRaw), (std::vector<int32_t>{256, 'c'}));
}

TEST(BpeEncoder, EqualRanksMergeLeftmostFirst) {
    auto tok = bpe_tokenizer({{"aa"}}, {"a a"});
    EXPECT_EQ(tok.encode("aaa", kRaw), (std::vector<int32_t>{256, 'a'}));
    EXPECT_EQ(tok.encode("aaaa", kRaw), (std::vector<int32_t>{256, 256}));
}

TEST(BpeEncoder, EveryByteRoundTrips) {
    auto tok = bpe_tokenizer({}, {});
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    auto ids = tok.encode(all, kRaw);
    EXPECT_EQ(ids.size(), 256u);
    EXPECT_EQ(tok.decode(ids), all);
}

TEST(BpeEncoder, SpacesBecomeTheByteLevelCharacter) {
    auto tok = bpe_tokenizer({{"\xC4\xA0" "a"}}, {"\xC4\xA0 a"});
    EXPECT_EQ(tok.encode("a a", kRaw), (std::vector<int32_t>{'a', 256}));
    EXPECT_EQ(tok.piece(256), "\xC4\xA0" "a");
    EXPECT_EQ(tok.token_bytes(256), " a");
}

TEST(Vocab, ErrorsAreValues) {
    Vocab vocab;
    vocab.tokens = {"a", "b"};
    vocab.scores = {0.0f};
    EXPECT_FALSE(finish_vocab(vocab, {}).ok());
    Vocab bpe;
    bpe.kind = VocabKind::Bpe;
    bpe.tokens = {"a"};
    EXPECT_FALSE(finish_vocab(bpe, {"nospace"}).ok());
    Vocab unknown_pre;
    unknown_pre.kind = VocabKind::Bpe;
    unknown_pre.pre = "made-up";
    unknown_pre.tokens = {"a"};
    ASSERT_TRUE(finish_vocab(unknown_pre, {}).ok());
    auto tok = Tokenizer::from_vocab(unknown_pre);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.error().message.find("made-up"), std::string::npos);
}

TEST(Tokenizer, OutOfRangeIdsAreSkippedWhenDecoding) {
    auto tok = bpe_tokenizer({}, {});
    std::vector<int32_t> ids = {'a', -5, 100000, 'b'};
    EXPECT_EQ(tok.decode(ids), "ab");
    EXPECT_EQ(tok.piece(-1), "");
}

TEST(WordPiece, NormalizesLikeBert) {
    EXPECT_EQ(wordpiece_words("Hello, W\xC3\xB6rld!  \xE6\x97\xA5\xE6\x9C\xAC"),
              (std::vector<std::string>{"hello", ",", "world", "!", "\xE6\x97\xA5", "\xE6\x9C\xAC"}));
    EXPECT_EQ(wordpiece_words("a\x01" "b\tc"), (std::vector<std::string>{"ab", "c"}));
}

TEST(WordPiece, GreedyLongestMatchWithUnknownFallback) {
    std::vector<TokenSpec> specs = {{"[UNK]", 0, TokenKind::Control}, {kSpace + "un"}, {"aff"},
                                    {"able"},  {kSpace + "unaff"}, {kSpace + "x"}};
    auto tok = build_tokenizer(VocabKind::WordPiece, specs);
    EXPECT_EQ(tok.encode("unaffable", kRaw), (std::vector<int32_t>{4, 3}));
    EXPECT_EQ(tok.encode("unx x", kRaw), (std::vector<int32_t>{0, 5}));  // "unx" cannot be covered
}

}  // namespace
}  // namespace rf::tokenizer::test
