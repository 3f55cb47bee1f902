// Token masks against brute force: on small vocabularies (every byte, and random strings over the
// characters the grammars use, some cut mid-character), the trie walk must allow exactly the
// tokens that a fresh matcher accepts one by one, at every step of random walks.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/token_constraint.h"

namespace rf::grammar {
namespace {

constexpr int32_t kEnd = 0;  // the vocabulary's end token (not in the trie)

std::shared_ptr<const TokenTrie> small_vocab(uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::vector<std::string> alphabet = {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "a", "b", "z",
                                               "0", "1", "9", "-", ".", "e", "\\", "é", "→", "\xF0\x9F\x98\x80"};
    std::vector<std::string> texts = {"</s>"};
    for (int b = 0; b < 256; ++b) texts.push_back(std::string(1, static_cast<char>(b)));
    for (int i = 0; i < 600; ++i) {
        std::string t;
        const int n = 1 + static_cast<int>(rng() % 6);
        for (int k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
        if (rng() % 8 == 0 && t.size() > 1) t.pop_back();  // may cut a character
        texts.push_back(t);
    }
    texts.push_back(texts[300]);  // two tokens with the same text
    std::vector<bool> usable(texts.size(), true);
    usable[kEnd] = false;
    return std::make_shared<const TokenTrie>(texts, usable);
}

// Bit by bit: what a copy of the matcher says of each token.
std::vector<uint64_t> brute_force_mask(const Matcher& state, const TokenTrie& trie, bool complete) {
    std::vector<uint64_t> bits((static_cast<size_t>(trie.n_vocab()) + 63) / 64, 0);
    for (int32_t t = 0; t < trie.n_vocab(); ++t) {
        bool ok = false;
        if (t == kEnd) {
            ok = complete;
        } else if (trie.usable(t)) {
            Matcher copy = state;
            ok = copy.accept(trie.text(t));
        }
        if (ok) bits[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
    }
    return bits;
}

const char* const kGrammars[] = {
    R"(root ::= "{" ws (pair ("," ws pair)*)? "}"
pair ::= string ":" ws value
value ::= string | number | "[" ws (value ("," ws value)*)? "]" | root
string ::= "\"" ([^"\\\x00-\x1f] | "\\" ["\\/bfnrt])* "\""
number ::= "-"? ([0-9] | [1-9] [0-9]{1,3}) ("." [0-9]{1,2})? ([eE] [-+]? [0-9])?
ws ::= [ \n]{0,2})",
    R"(root ::= ([a-z] | [é-ü] | "→")+ ("." | [\U0001F600-\U0001F64F]))",
    R"(root ::= "ab" "z"* | "a" [^z]? "b" | ("1" | "19")+)",
};

TEST(TokenConstraint, MaskEqualsBruteForceAlongRandomWalks) {
    for (size_t gi = 0; gi < std::size(kGrammars); ++gi) {
        auto parsed = parse_gbnf(kGrammars[gi]);
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        auto grammar = std::make_shared<const Grammar>(std::move(*parsed));
        for (uint64_t seed = 1; seed <= 6; ++seed) {
            auto trie = small_vocab(seed);
            TokenConstraint c(grammar, trie, {kEnd});
            Matcher shadow(grammar);  // the same state, advanced by plain text
            std::mt19937_64 rng(seed * 31 + gi);
            for (int step = 0; step < 40; ++step) {
                const std::vector<uint64_t> expected = brute_force_mask(shadow, *trie, shadow.complete());
                const std::vector<uint64_t>& got = c.mask();
                ASSERT_EQ(got, expected) << "grammar " << gi << " seed " << seed << " step " << step;
                std::vector<int32_t> allowed;
                for (int32_t t = 0; t < trie->n_vocab(); ++t) {
                    const bool bit = (got[static_cast<size_t>(t) / 64] >> (t % 64)) & 1;
                    EXPECT_EQ(c.allows(t), bit) << t;
                    if (bit) allowed.push_back(t);
                }
                ASSERT_FALSE(allowed.empty()) << "dead end: grammar " << gi << " step " << step;
                const int32_t pick = allowed[rng() % allowed.size()];
                if (pick == kEnd) break;
                ASSERT_TRUE(c.accept(pick).ok());
                ASSERT_TRUE(shadow.accept(trie->text(pick)));
                if (c.finished()) break;
            }
        }
    }
}

TEST(TokenConstraint, RefusedTokensAreErrorsAndEndNeedsACompleteText) {
    auto g = std::make_shared<const Grammar>(*parse_gbnf(R"(root ::= "ab")"));
    auto trie = std::make_shared<const TokenTrie>(std::vector<std::string>{"</s>", "a", "b", "ab", "c"},
                                                  std::vector<bool>{false, true, true, true, true});
    TokenConstraint c(g, trie, {0});
    EXPECT_FALSE(c.accept(4).ok());
    EXPECT_FALSE(c.accept(0).ok());  // not complete yet
    EXPECT_FALSE(c.allows(2));
    ASSERT_TRUE(c.accept(1).ok());
    EXPECT_FALSE(c.finished());
    ASSERT_TRUE(c.accept(2).ok());
    EXPECT_TRUE(c.finished());
    EXPECT_TRUE(c.allows(0));
    EXPECT_EQ(c.mask()[0], uint64_t{1});  // only the end token
}

TEST(TokenConstraint, RepeatedStatesAreAnsweredFromTheCache) {
    auto g = std::make_shared<const Grammar>(*parse_gbnf(R"(root ::= "\"" [a-z]* "\"")"));
    auto trie = small_vocab(3);
    TokenConstraint c(g, trie, {kEnd});
    ASSERT_TRUE(c.accept(1 + '"').ok());  // the byte token for '"'
    const std::vector<uint64_t> first = c.mask();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.accept(1 + 'a').ok());
        EXPECT_EQ(c.mask(), first);
    }
    EXPECT_EQ(c.stats().masks, 6);
    EXPECT_EQ(c.stats().cache_hits, 5);
}

// A long text leaves frames behind; the matcher drops those no stack reaches, renumbering the rest,
// and the masks (cached by frame numbers) stay right across it. Each round nests 20 random arrays
// and objects in the top array (new stacks, so new frames: a collection every ~160 rounds) and
// comes back, so the state at any byte of a round is also that after a short text: the masks of a
// constraint that never collects, and of brute force, are known.
TEST(TokenConstraint, MasksStayRightWhileALongTextsFramesAreCollected) {
    auto g = std::make_shared<const Grammar>(*parse_gbnf(kGrammars[0]));
    auto trie = small_vocab(5);
    const std::string prefix = R"({"k":[1,)";
    const auto feed = [&](TokenConstraint& c, std::string_view text) {
        for (unsigned char ch : text)
            if (!c.accept(1 + ch).ok()) return false;
        return true;
    };
    TokenConstraint c(g, trie, {kEnd});
    Matcher long_run(g);  // the same text, to see the collections
    ASSERT_TRUE(feed(c, prefix) && long_run.accept(prefix));
    std::mt19937_64 rng(7);
    for (int r = 0; r < 400; ++r) {
        std::string open, close;
        for (int depth = 0; depth < 20; ++depth) {
            const bool array = rng() % 2;
            open += array ? "[" : R"({"a":)";
            close.insert(close.begin(), array ? ']' : '}');
        }
        const std::string text = open + "1" + close + ",";
        TokenConstraint fresh(g, trie, {kEnd});
        Matcher shadow(g);
        ASSERT_TRUE(feed(fresh, prefix) && shadow.accept(prefix));
        for (size_t i = 0; i < text.size(); ++i) {
            ASSERT_EQ(c.mask(), fresh.mask()) << "round " << r << " byte " << i;
            if (r % 100 == 0 && i % 13 == 0)
                ASSERT_EQ(c.mask(), brute_force_mask(shadow, *trie, false)) << "round " << r << " byte " << i;
            const std::string_view byte = std::string_view(text).substr(i, 1);
            ASSERT_TRUE(feed(c, byte) && feed(fresh, byte) && shadow.accept(byte) && long_run.accept(byte));
        }
    }
    EXPECT_GE(long_run.collections(), 2u);
    EXPECT_LT(long_run.mark(), size_t{4} << 16);  // bounded, not growing with the text
    EXPECT_TRUE(c.error().empty()) << c.error();
}

// Each 'a' may or may not wait for its 'b', so after n of them the state holds n + 1 stacks and a
// mask's cost grows with n: past its budget the constraint gives up with a reason.
TEST(TokenConstraint, AGrammarTooAmbiguousToFollowStopsWithAReason) {
    auto g = std::make_shared<const Grammar>(*parse_gbnf(R"(root ::= "a" root "b" | "a" root | "")"));
    auto trie = small_vocab(4);
    TokenConstraint c(g, trie, {kEnd});
    const int32_t a = 1 + 'a', b = 1 + 'b';
    int accepted = 0;
    int64_t last_mask_work = 0;
    for (; accepted < 5000 && c.error().empty(); ++accepted) {
        const int64_t work_before = c.stats().work;
        const std::vector<uint64_t>& mask = c.mask();
        last_mask_work = c.stats().work - work_before;
        if (!c.error().empty()) {
            EXPECT_TRUE(std::all_of(mask.begin(), mask.end(), [](uint64_t w) { return w == 0; }));
            break;
        }
        ASSERT_TRUE((mask[a / 64] >> (a % 64)) & 1) << "after " << accepted;
        ASSERT_EQ((mask[b / 64] >> (b % 64)) & 1, accepted > 0 ? 1u : 0u) << "after " << accepted;
        ASSERT_TRUE(c.accept(a).ok());
    }
    EXPECT_NE(c.error().find("too ambiguous"), std::string::npos) << c.error();
    EXPECT_GT(accepted, 100);  // a state of a hundred stacks is still followed
    EXPECT_LT(accepted, 5000);
    // The mask that gave up stopped within one matcher step of its budget.
    EXPECT_GT(last_mask_work, static_cast<int64_t>(kMinMaskWork));
    EXPECT_LE(last_mask_work, static_cast<int64_t>(kMinMaskWork + kMaxHeads + kMaxExpansions));
    // From then on nothing is allowed or accepted.
    EXPECT_FALSE(c.allows(a));
    EXPECT_FALSE(c.accept(a).ok());

    // The same grammar with a budget of its own gives up sooner.
    TokenConstraint tight(g, trie, {kEnd}, uint64_t{1} << 12);
    int tight_accepted = 0;
    for (; tight_accepted < 5000; ++tight_accepted) {
        (void)tight.mask();
        if (!tight.error().empty()) break;
        ASSERT_TRUE(tight.accept(a).ok());
    }
    EXPECT_LT(tight_accepted, accepted);
}

}  // namespace
}  // namespace rf::grammar
