// No quadratic blow-up: a 1 MB "word" without spaces tokenizes in well under a second, for
// SentencePiece-style and byte-level BPE vocabularies.
#include <chrono>
#include <ctime>
#include <random>

#include "shared_vocab.h"

namespace rf::tokenizer::test {
namespace {

constexpr size_t kLength = 1'000'000;

// Sanitizer builds run many times slower; the bound is about growth, not the constant factor.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kBudgetSeconds = 30.0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kBudgetSeconds = 30.0;
#else
constexpr double kBudgetSeconds = 1.0;
#endif
#else
constexpr double kBudgetSeconds = 1.0;
#endif

// CPU time of this thread: the build machines are shared, so wall time says little.
double thread_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_to_encode(const Tokenizer& tok, const std::string& text, std::vector<int32_t>& ids) {
    const double start = thread_seconds();
    ids = tok.encode(text, raw_encoding());
    return thread_seconds() - start;
}

class LongWord : public ::testing::TestWithParam<std::string> {};

TEST_P(LongWord, OneMegabyteWithoutSpacesIsFast) {
    RF_REQUIRE_SHARED();
    auto tok = load_tokenizer(vocab_path(GetParam()));
    ASSERT_TRUE(tok);
    std::mt19937 rng(7);
    std::string random_letters(kLength, 'a');
    for (char& c : random_letters) c = static_cast<char>('a' + rng() % 26);
    for (const std::string& text : {std::string(kLength, 'a'), random_letters}) {
        std::vector<int32_t> ids;
        const double seconds = seconds_to_encode(*tok, text, ids);
        std::printf("[ long     ] %s: %zu tokens in %.3f s (CPU)\n", GetParam().c_str(), ids.size(), seconds);
        EXPECT_LT(seconds, kBudgetSeconds) << GetParam();
        EXPECT_EQ(tok->decode(ids), text);
    }
}

INSTANTIATE_TEST_SUITE_P(Shared, LongWord, ::testing::Values("llama-spm", "gpt-2", "deepseek-llm"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) if (c == '-') c = '_';
                             return name;
                         });

}  // namespace
}  // namespace rf::tokenizer::test
