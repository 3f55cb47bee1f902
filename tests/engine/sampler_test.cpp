// Each sampler stage on hand-made distributions, and the chain's determinism under a seed.
#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "engine/sampler.h"

namespace rf::engine {
namespace {

std::vector<Candidate> candidates(std::vector<float> logits) {
    std::vector<Candidate> c;
    make_candidates(logits, c);
    return c;
}

std::vector<int32_t> ids(const std::vector<Candidate>& c) {
    std::vector<int32_t> out;
    for (const auto& x : c) out.push_back(x.id);
    return out;
}

float total(const std::vector<Candidate>& c) {
    float s = 0;
    for (const auto& x : c) s += x.p;
    return s;
}

TEST(SamplerStages, CandidatesAreSortedWithProbabilities) {
    auto c = candidates({1.0f, 3.0f, 2.0f, 3.0f});
    EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3, 2, 0}));  // ties by id
    EXPECT_NEAR(total(c), 1.0f, 1e-6);
    EXPECT_NEAR(c[0].p / c[2].p, std::exp(1.0f), 1e-4);
}

TEST(SamplerStages, TopKKeepsTheBest) {
    auto c = candidates({0.0f, 5.0f, 1.0f, 4.0f});
    top_k(c, 2);
    EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
    EXPECT_NEAR(total(c), 1.0f, 1e-6);
    auto all = candidates({0.0f, 1.0f});
    top_k(all, 0);
    EXPECT_EQ(all.size(), 2u);
}

TEST(SamplerStages, LimitedCandidatesEqualTopKOfTheFullList) {
    std::vector<float> logits;
    for (int i = 0; i < 200; ++i) logits.push_back(std::sin(i * 0.7f) * 3.0f);
    auto full = candidates(logits);
    top_k(full, 9);
    std::vector<Candidate> limited;
    make_candidates(logits, limited, 9);
    ASSERT_EQ(ids(limited), ids(full));
    for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(limited[i].p, full[i].p, 1e-6);
}

TEST(SamplerStages, TopPKeepsTheSmallestPrefixReachingTheMass) {
    // Probabilities 0.5, 0.25, 0.125, 0.125 (logits are log-probabilities).
    auto c = candidates({std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)});
    top_p(c, 0.7f);
    EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1}));
    auto d = candidates({std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)});
    top_p(d, 0.5f);
    EXPECT_EQ(ids(d), (std::vector<int32_t>{0}));
}

TEST(SamplerStages, MinPDropsTokensFarBelowTheBest) {
    auto c = candidates({std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)});
    min_p(c, 0.25f);  // threshold 0.125
    EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1, 2}));
}

TEST(SamplerStages, TypicalPPrefersTokensNearTheEntropy) {
    // p = 0.4, 0.3, 0.2, 0.1: entropy 1.28 nats; surprises 0.92, 1.20, 1.61, 2.30. Closest to the
    // entropy are tokens 1 and 2, which reach the mass 0.45 before the most likely token does.
    auto c = candidates({std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)});
    typical_p(c, 0.45f);
    EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 2}));
    EXPECT_NEAR(total(c), 1.0f, 1e-5);
}

TEST(SamplerStages, TemperatureSharpensAndFlattens) {
    auto cold = candidates({1.0f, 0.0f});
    apply_temperature(cold, 0.5f);
    auto hot = candidates({1.0f, 0.0f});
    apply_temperature(hot, 2.0f);
    EXPECT_GT(cold[0].p, 0.8f);
    EXPECT_LT(hot[0].p, 0.65f);
}

TEST(SamplerStages, PenaltiesLowerSeenTokens) {
    std::vector<float> logits = {2.0f, -2.0f, 2.0f, 1.0f};
    const std::vector<int32_t> recent = {0, 1, 3, 3};
    std::vector<int32_t> scratch;
    apply_penalties(logits, recent, 2.0f, 0.0f, 0.0f, scratch);
    EXPECT_FLOAT_EQ(logits[0], 1.0f);   // positive: divided
    EXPECT_FLOAT_EQ(logits[1], -4.0f);  // negative: multiplied
    EXPECT_FLOAT_EQ(logits[2], 2.0f);   // unseen
    std::vector<float> freq = {1.0f, 1.0f, 1.0f, 1.0f};
    apply_penalties(freq, recent, 1.0f, 0.5f, 0.25f, scratch);
    EXPECT_FLOAT_EQ(freq[3], 1.0f - 2 * 0.5f - 0.25f);
    EXPECT_FLOAT_EQ(freq[0], 1.0f - 0.5f - 0.25f);
    EXPECT_FLOAT_EQ(freq[2], 1.0f);
}

TEST(SamplerStages, LogitBiasAddsAndIgnoresUnknownIds) {
    std::vector<float> logits = {0.0f, 0.0f};
    const std::vector<std::pair<int32_t, float>> bias = {{1, 3.0f}, {7, 1.0f}, {-1, 1.0f}};
    apply_logit_bias(logits, bias);
    EXPECT_EQ(logits, (std::vector<float>{0.0f, 3.0f}));
}

TEST(Sampler, GreedyTakesTheArgmax) {
    Sampler s({.temperature = 0.0f});
    std::vector<float> logits = {0.1f, 2.0f, 1.9f};
    EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, WindowLimitsRepetitionPenalty) {
    Sampler s({.temperature = 0.0f, .repeat_penalty = 10.0f, .penalty_window = 1});
    s.accept(1);
    s.accept(0);  // pushes 1 out of the window
    std::vector<float> logits = {2.0f, 1.5f};
    EXPECT_EQ(s.sample(logits), 1);  // 0 is penalised to 0.2
}

TEST(Sampler, SeedMakesDrawsRepeatable) {
    const std::vector<float> base = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f};
    auto draw = [&](uint64_t seed) {
        Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed});
        std::vector<int32_t> out;
        for (int i = 0; i < 50; ++i) {
            std::vector<float> l = base;
            out.push_back(s.sample(l));
        }
        return out;
    };
    EXPECT_EQ(draw(42), draw(42));
    EXPECT_NE(draw(42), draw(43));
    // Every token of a flat distribution gets drawn.
    std::map<int32_t, int> seen;
    for (int32_t t : draw(1)) ++seen[t];
    EXPECT_EQ(seen.size(), base.size());
}

// Drawing from the whole distribution (no truncating stage) needs no sorting; its draws follow
// softmax(logits / temperature), and a truncating stage that keeps everything agrees with it.
TEST(Sampler, DrawsFromTheWholeDistributionFollowItsProbabilities) {
    const std::vector<float> base = {0.0f, 1.0f, 2.0f, 3.0f, -INFINITY, 0.5f};
    for (float t : {0.7f, 1.0f, 1.6f}) {
        double sum = 0.0;
        std::vector<double> expected;
        for (float l : base) sum += std::exp(static_cast<double>(l) / t);
        for (float l : base) expected.push_back(std::exp(static_cast<double>(l) / t) / sum);
        // top_k equal to the vocabulary keeps every token but takes the sorted path.
        for (int64_t top_k : {int64_t{0}, static_cast<int64_t>(base.size())}) {
            Sampler s({.temperature = t, .top_k = top_k, .top_p = 1.0f, .min_p = 0.0f, .seed = 11});
            constexpr int kDraws = 40000;
            std::vector<int> count(base.size(), 0);
            for (int i = 0; i < kDraws; ++i) {
                std::vector<float> l = base;
                ++count[static_cast<size_t>(s.sample(l))];
            }
            EXPECT_EQ(count[4], 0) << "a logit of -infinity is never drawn";
            for (size_t k = 0; k < base.size(); ++k)  // 5 standard deviations of a binomial share at most
                EXPECT_NEAR(count[k] / double(kDraws), expected[k], 5 * std::sqrt(0.25 / kDraws))
                    << "token " << k << " temperature " << t << " top_k " << top_k;
        }
    }
}

TEST(Sampler, BiasOfMinusInfinityBansAToken) {
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .logit_bias = {{0, -INFINITY}}, .seed = 3});
    for (int i = 0; i < 30; ++i) {
        std::vector<float> l = {5.0f, 0.0f, 0.0f};
        EXPECT_NE(s.sample(l), 0);
    }
}

TEST(Sampler, ValidationNamesTheBadParameter) {
    EXPECT_NE(validate({.temperature = -1.0f}).error().message.find("temperature"), std::string::npos);
    EXPECT_NE(validate({.top_p = 0.0f}).error().message.find("top-p"), std::string::npos);
    EXPECT_NE(validate({.min_p = 2.0f}).error().message.find("min-p"), std::string::npos);
    EXPECT_NE(validate({.top_k = -3}).error().message.find("top-k"), std::string::npos);
    EXPECT_NE(validate({.repeat_penalty = NAN}).error().message.find("repeat"), std::string::npos);
    EXPECT_TRUE(validate({}).ok());
}

}  // namespace
}  // namespace rf::engine
