// Attention over a paged cache, every ISA variant against the formula in double precision: head
// sizes that do and do not fill whole vectors, runs of 1 to 8 heads, F32 and F16 caches, blocks
// in scrambled order, sliding windows and soft-capping. And a head's result must not depend on the
// run it is computed in (the batch-invariance of attention rests on that).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/cpu/kernels/attention.h"
#include "quant/float_convert.h"

namespace rf::cpu {
namespace {

struct Case {
    int64_t head_dim;
    int n_heads;
    int64_t block_size;
    int64_t first, last;
    bool f16;
    float softcap;
};

// A cache of one KV head with its rows in scrambled blocks, and the queries of a run of heads.
struct Fixture {
    Case c;
    int64_t n_blocks;
    std::vector<int32_t> table;      // logical block -> physical block
    std::vector<float> k, v;         // [logical position][head_dim], as the cache holds them
    std::vector<uint8_t> keys, values;
    std::vector<float> q;            // [head][head_dim]

    explicit Fixture(const Case& cs, uint32_t seed) : c(cs) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        const int64_t positions = c.last + 1;
        n_blocks = (positions + c.block_size - 1) / c.block_size;
        for (int64_t b = 0; b < n_blocks; ++b) table.push_back(static_cast<int32_t>(b));
        std::shuffle(table.begin(), table.end(), rng);
        const size_t elem = c.f16 ? 2 : 4, row = static_cast<size_t>(c.head_dim) * elem;
        values.assign(static_cast<size_t>(n_blocks * c.block_size) * row, 0);
        keys.assign(values.size() + kKeyPadding, 0);
        for (int64_t p = 0; p < positions; ++p) {
            const int64_t block = table[p / c.block_size], slot = block * c.block_size + p % c.block_size;
            for (int64_t d = 0; d < c.head_dim; ++d) {  // keys transposed per block
                k.push_back(store(keys, ((block * c.head_dim + d) * c.block_size + p % c.block_size) * elem, 3.0f * u(rng)));
                v.push_back(store(values, slot * row + d * elem, u(rng)));
            }
        }
        for (int64_t i = 0; i < c.n_heads * c.head_dim; ++i) q.push_back(u(rng));
    }
    // Writes x at `offset` in the cache's type; returns the value the cache holds.
    float store(std::vector<uint8_t>& cache, size_t offset, float x) const {
        if (!c.f16) {
            std::memcpy(cache.data() + offset, &x, 4);
            return x;
        }
        const uint16_t h = quant::f32_to_fp16(x);
        std::memcpy(cache.data() + offset, &h, 2);
        return quant::fp16_to_f32(h);
    }
    AttendJob job(float* out, float* scores, int first_head = 0, int n_heads = -1) const {
        AttendJob j;
        j.q = q.data() + first_head * c.head_dim;
        j.q_stride = c.head_dim;
        j.n_heads = n_heads < 0 ? c.n_heads : n_heads;
        j.keys = keys.data();
        j.values = values.data();
        j.v_stride = static_cast<size_t>(c.head_dim) * (c.f16 ? 2 : 4);
        j.f16 = c.f16;
        j.block_table = table.data();
        j.block_size = c.block_size;
        j.first = c.first;
        j.last = c.last;
        j.head_dim_k = j.head_dim_v = c.head_dim;
        j.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
        j.softcap = c.softcap;
        j.out = out + first_head * c.head_dim;
        j.out_stride = c.head_dim;
        j.scores = scores;
        return j;
    }
    // The formula, in double: softmax over the visible positions of the (capped) scaled dots.
    std::vector<double> expected() const {
        std::vector<double> out;
        const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
        for (int h = 0; h < c.n_heads; ++h) {
            std::vector<double> w;
            for (int64_t p = c.first; p <= c.last; ++p) {
                double dot = 0;
                for (int64_t d = 0; d < c.head_dim; ++d) dot += double{q[h * c.head_dim + d]} * k[p * c.head_dim + d];
                double s = dot * scale;
                if (c.softcap > 0) s = c.softcap * std::tanh(s / c.softcap);
                w.push_back(s);
            }
            const double top = *std::max_element(w.begin(), w.end());
            double sum = 0;
            for (double& x : w) sum += x = std::exp(x - top);
            for (int64_t d = 0; d < c.head_dim; ++d) {
                double acc = 0;
                for (int64_t p = c.first; p <= c.last; ++p) acc += w[p - c.first] / sum * v[p * c.head_dim + d];
                out.push_back(acc);
            }
        }
        return out;
    }
};

std::vector<Case> cases() {
    std::vector<Case> all;
    for (int64_t head_dim : {4, 13, 64, 80, 128})
        for (int n_heads : {1, 3, 8})
            for (bool f16 : {false, true}) {
                all.push_back({head_dim, n_heads, 16, 0, 0, f16, 0.0f});      // one position
                all.push_back({head_dim, n_heads, 16, 0, 100, f16, 0.0f});    // several blocks, one partial
                all.push_back({head_dim, n_heads, 5, 37, 140, f16, 0.0f});    // a window, blocks of 5
                all.push_back({head_dim, n_heads, 32, 21, 99, f16, 0.0f});    // blocks wider than a vector
                all.push_back({head_dim, n_heads, 16, 3, 40, f16, 1.5f});     // soft-capped
            }
    return all;
}

std::string name(const Case& c) {
    return fmt::format("dim {} heads {} block {} positions {}..{} {}{}", c.head_dim, c.n_heads, c.block_size, c.first,
                       c.last, c.f16 ? "f16" : "f32", c.softcap > 0 ? " capped" : "");
}

TEST(Attention, EveryVariantMatchesTheFormula) {
    uint32_t seed = 1;
    for (Isa isa : supported_isas())
        for (const Case& c : cases()) {
            const Fixture f(c, seed++);
            std::vector<float> out(static_cast<size_t>(c.n_heads * c.head_dim), NAN);
            std::vector<float> scores(static_cast<size_t>(c.n_heads * (c.last - c.first + 1)));
            attend(isa, f.job(out.data(), scores.data()));
            const std::vector<double> expected = f.expected();
            for (size_t i = 0; i < out.size(); ++i)
                ASSERT_NEAR(out[i], expected[i], 2e-5) << isa_name(isa) << ", " << name(c) << ", element " << i;
        }
}

TEST(Attention, AHeadGivesTheSameBitsInAnyRun) {
    for (Isa isa : supported_isas())
        for (bool f16 : {false, true}) {
            const Case c{64, 8, 16, 0, 70, f16, 0.0f};
            const Fixture f(c, 99);
            std::vector<float> together(static_cast<size_t>(8 * c.head_dim)), alone(together.size()), threes(together.size());
            std::vector<float> scores(static_cast<size_t>(8 * (c.last + 1)));
            attend(isa, f.job(together.data(), scores.data()));
            for (int h = 0; h < 8; ++h) attend(isa, f.job(alone.data(), scores.data(), h, 1));
            for (int h = 0; h < 8; h += 3) attend(isa, f.job(threes.data(), scores.data(), h, std::min(3, 8 - h)));
            for (size_t i = 0; i < together.size(); ++i) {
                ASSERT_EQ(together[i], alone[i]) << isa_name(isa) << (f16 ? " f16" : " f32") << ", element " << i;
                ASSERT_EQ(together[i], threes[i]) << isa_name(isa) << (f16 ? " f16" : " f32") << ", element " << i;
            }
        }
}

}  // namespace
}  // namespace rf::cpu
