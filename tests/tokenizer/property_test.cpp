// Properties over random text on the shared vocabularies: encoding never fails, decoding restores
// the text exactly, and the streaming detokenizer agrees with batch decoding.
#include <random>

#include "shared_vocab.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer::test {
namespace {

// Random well-formed UTF-8 drawing on ASCII, whitespace, Latin, Cyrillic, CJK, Hangul and emoji.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
    static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
        {0x20, 0x7E}, {0x20, 0x7E}, {0x20, 0x7E}, {0x09, 0x0A}, {0xA0, 0x17F}, {0x400, 0x44F},
        {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F600, 0x1F64F}, {0x2000, 0x206F}, {0x300, 0x36F}};
    std::string s;
    for (size_t i = 0; i < n_chars; ++i) {
        const auto& [lo, hi] = ranges[rng() % ranges.size()];
        append_utf8(s, lo + rng() % (hi - lo + 1));
    }
    return s;
}

std::string random_bytes(std::mt19937& rng, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += static_cast<char>(rng() % 256);
    return s;
}

std::string stream_decode(const Tokenizer& tok, const std::vector<int32_t>& ids) {
    StreamDecoder stream(tok);
    std::string out;
    for (int32_t id : ids) out += stream.push(id);
    return out + stream.finish();
}

// Whether every byte has a token that decodes to exactly that byte. Not always so: some byte-level
// vocabularies lack the bytes that never occur in UTF-8, or list them as user-defined tokens that
// stand for the character (e.g. U+00F6) rather than the byte.
bool every_byte_has_its_token(const Tokenizer& tok) {
    for (int b = 0; b < 256; ++b) {
        int32_t id = tok.vocab().byte_tokens[static_cast<size_t>(b)];
        if (id == kNoToken || tok.token_bytes(id) != std::string(1, static_cast<char>(b))) return false;
    }
    return true;
}

class RandomText : public ::testing::TestWithParam<std::string> {};

TEST_P(RandomText, RoundTripsAndStreams) {
    RF_REQUIRE_SHARED();
    auto tok = load_tokenizer(vocab_path(GetParam()));
    ASSERT_TRUE(tok);
    const bool exact = tok->kind() != VocabKind::WordPiece;  // WordPiece lower-cases and drops accents
    std::mt19937 rng(1234);
    for (int round = 0; round < 200; ++round) {
        const std::string text = random_utf8(rng, 1 + rng() % 60);
        for (bool parse_special : {false, true}) {
            auto ids = tok->encode(text, {.add_special = true, .parse_special = parse_special});
            for (int32_t id : ids) {
                ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
            }
            const std::string batch = tok->decode(ids);
            if (exact) {
                EXPECT_EQ(batch, text) << GetParam();
            }
            EXPECT_TRUE(is_valid_utf8(batch));
            EXPECT_EQ(stream_decode(*tok, ids), batch);
        }
    }
}

TEST_P(RandomText, ArbitraryBytesNeverFailAndStreamAsValidUtf8) {
    RF_REQUIRE_SHARED();
    auto tok = load_tokenizer(vocab_path(GetParam()));
    ASSERT_TRUE(tok);
    const bool exact = tok->kind() != VocabKind::WordPiece && every_byte_has_its_token(*tok);
    std::mt19937 rng(99);
    for (int round = 0; round < 100; ++round) {
        const std::string text = random_bytes(rng, rng() % 80);
        auto ids = tok->encode(text, {.add_special = true, .parse_special = true});
        for (int32_t id : ids) {
            ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
        }
        // Byte fallback (SPM) and byte-level BPE can represent any byte string.
        if (exact) {
            EXPECT_EQ(tok->decode(ids), text) << GetParam();
        }
        EXPECT_TRUE(is_valid_utf8(stream_decode(*tok, ids)));
    }
}

INSTANTIATE_TEST_SUITE_P(Shared, RandomText,
                         ::testing::Values("baichuan", "bert-bge", "deepseek-coder", "deepseek-llm", "gpt-2",
                                           "gpt-neox", "llama-spm", "phi-3"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) if (c == '-') c = '_';
                             return name;
                         });

// Special-token parsing against a real vocabulary.
TEST(SharedSpecialTokens, ParsedOnlyOnRequest) {
    RF_REQUIRE_SHARED();
    auto phi3 = load_tokenizer(vocab_path("phi-3"));
    ASSERT_TRUE(phi3);
    const int32_t user = phi3->find_token("<|user|>");
    ASSERT_NE(user, kNoToken);
    auto parsed = phi3->encode("<|user|>\nHi<|end|>", {.add_special = false, .parse_special = true});
    EXPECT_EQ(parsed.front(), user);
    EXPECT_EQ(parsed.back(), phi3->find_token("<|end|>"));
    EXPECT_TRUE(phi3->is_end_of_generation(phi3->find_token("<|end|>")));
    auto plain = phi3->encode("<|user|>", {.add_special = false, .parse_special = false});
    EXPECT_GT(plain.size(), 1u);
    EXPECT_EQ(phi3->decode(plain), "<|user|>");
    EXPECT_EQ(phi3->decode(parsed, {.show_special = true}), "<|user|>\nHi<|end|>");

    auto gpt2 = load_tokenizer(vocab_path("gpt-2"));
    ASSERT_TRUE(gpt2);
    auto eot = gpt2->encode("a<|endoftext|>", {.add_special = false, .parse_special = true});
    EXPECT_EQ(eot, (std::vector<int32_t>{64, 50256}));
}

}  // namespace
}  // namespace rf::tokenizer::test
