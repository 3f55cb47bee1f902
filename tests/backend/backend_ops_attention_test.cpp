// store_kv + attention over the paged KV cache against a double-precision softmax attention over
// the keys and values the test stored (rounded to f16 for an F16 cache): grouped-query heads (8
// query heads over 2 KV heads), head sizes 64 and 80 (and keys of 80 with values of 64),
// scrambled block tables, two sequences of different lengths in one batch with their tokens
// interleaved, a prompt chunk at an offset whose earlier positions were stored by the previous
// call, causal masking inside the batch, sliding windows, soft-capping, block sizes 16 and 8, and a
// long context whose decode step spans several tiles and splits of the keys; rope_store_kv bit for
// bit against rope, rope and store_kv.
// q, k and v are column ranges of one fused QKV activation; the output is a column range too.
#include <map>
#include <tuple>

#include "backend_ops_common.h"

namespace rf::test::ops {
namespace {

constexpr int64_t kHeads = 8, kLayers = 2, kBlocks = 30, kMaxBlocksPerSeq = 12;
constexpr float kAttentionTolerance = 1e-5f;  // of the largest |value| the head attends to

struct AttentionCase {
    std::string name;
    KvType type;
    int64_t head_dim_k, head_dim_v, block_size;
    float softcap = 0.0f;
    int64_t window = 0;
    int64_t kv_heads = 2;  // of kHeads query heads: 4 share a KV head (8: none, 4: pairs)
};

const std::vector<AttentionCase> kCases = {
    {"f32_64", KvType::F32, 64, 64, 16},
    {"f16_64", KvType::F16, 64, 64, 16},
    {"f32_80", KvType::F32, 80, 80, 16},
    {"f16_k80_v64", KvType::F16, 80, 64, 16},
    {"f32_64_block8", KvType::F32, 64, 64, 8},
    {"f32_64_softcap_window", KvType::F32, 64, 64, 16, 4.0f, 6},
    {"f16_80_softcap_window_block8", KvType::F16, 80, 80, 8, 4.0f, 13},
    {"f16_64_no_sharing", KvType::F16, 64, 64, 16, 0.0f, 0, 8},
    {"f32_80_pairs_window", KvType::F32, 80, 80, 16, 0.0f, 6, 4},
};

// Sequence 0 ("A") uses block-table row 1, sequence 1 ("B") row 0; physical blocks scrambled
// (block 7i + 3 mod 30 as entry i).
const std::vector<int32_t> kBlockTables = [] {
    std::vector<int32_t> t;
    for (int32_t i = 0; i < 2 * kMaxBlocksPerSeq; ++i) t.push_back((7 * i + 3) % static_cast<int32_t>(kBlocks));
    return t;
}();
int32_t table_row(int seq) { return seq == 0 ? 1 : 0; }

struct Token {
    int seq;
    int32_t pos;
};

class Attention : public OpsFixture, public ::testing::WithParamInterface<std::tuple<std::string, size_t>> {
protected:
    void SetUp() override { open(std::get<0>(GetParam())); }

    const AttentionCase& c() const { return kCases[std::get<1>(GetParam())]; }
    int64_t q_cols() const { return kHeads * c().head_dim_k; }
    int64_t k_cols() const { return c().kv_heads * c().head_dim_k; }
    int64_t v_cols() const { return c().kv_heads * c().head_dim_v; }
    int64_t fused_width() const { return q_cols() + k_cols() + v_cols(); }

    float round_kv(float v) const { return c().type == KvType::F16 ? quant::fp16_to_f32(quant::f32_to_fp16(v)) : v; }

    struct Batch {
        DeviceBuffer positions, seq_slots, kv_slots, tables;
        BatchLayout layout;
    };
    Batch make_batch(const std::vector<Token>& tokens) {
        std::vector<int32_t> positions, seq_slots, kv_slots;
        for (const Token& t : tokens) {
            positions.push_back(t.pos);
            seq_slots.push_back(table_row(t.seq));
            const int32_t block = kBlockTables[table_row(t.seq) * kMaxBlocksPerSeq + t.pos / c().block_size];
            kv_slots.push_back(block * static_cast<int32_t>(c().block_size) + t.pos % static_cast<int32_t>(c().block_size));
        }
        Batch b{upload(positions), upload(seq_slots), upload(kv_slots), upload(kBlockTables), {}};
        b.layout = BatchLayout{.n_tokens = static_cast<int64_t>(tokens.size()),
                               .n_seq_rows = 2,
                               .positions = b.positions.i32(),
                               .seq_slots = b.seq_slots.i32(),
                               .kv_slots = b.kv_slots.i32(),
                               .block_tables = b.tables.i32(),
                               .max_blocks_per_seq = kMaxBlocksPerSeq};
        return b;
    }

    AttentionConfig config() const {
        return {.n_heads = kHeads,
                .n_kv_heads = c().kv_heads,
                .head_dim_k = c().head_dim_k,
                .head_dim_v = c().head_dim_v,
                .scale = 1.0f / std::sqrt(static_cast<float>(c().head_dim_k)),
                .softcap = c().softcap,
                .sliding_window = c().window};
    }

    // One forward step: junk keys/values into layer 0 (attention reads layer 1), the batch's keys
    // and values into layer 1, then attention; checked against the reference over everything
    // stored so far.
    void step(KvStorage& cache, const std::vector<Token>& tokens, std::mt19937& rng) {
        const int64_t n = static_cast<int64_t>(tokens.size());
        Batch batch = make_batch(tokens);
        std::vector<float> fused(static_cast<size_t>(n * fused_width()));
        {
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : fused) v = normal(rng);
            for (int64_t t = 0; t < n; ++t)  // sharper scores: queries twice as long
                for (int64_t i = 0; i < q_cols(); ++i) fused[t * fused_width() + i] *= 2.0f;
        }
        const DevMat qkv = upload_mat(fused, n, fused_width());
        const DevMat junk = upload_mat(random_values(rng, static_cast<size_t>(n * fused_width())), n, fused_width());
        check(b().store_kv(cache, 0, junk.cols(q_cols(), k_cols()), junk.cols(q_cols() + k_cols(), v_cols()), batch.layout),
              "store_kv layer 0");
        check(b().store_kv(cache, 1, qkv.cols(q_cols(), k_cols()), qkv.cols(q_cols() + k_cols(), v_cols()), batch.layout),
              "store_kv layer 1");
        for (int64_t t = 0; t < n; ++t) {
            const float* row = fused.data() + t * fused_width();
            std::vector<float> k(row + q_cols(), row + q_cols() + k_cols()), v(row + q_cols() + k_cols(), row + fused_width());
            for (float& x : k) x = round_kv(x);
            for (float& x : v) x = round_kv(x);
            stored_[{tokens[t].seq, tokens[t].pos}] = {std::move(k), std::move(v)};
        }
        const int64_t out_cols = kHeads * c().head_dim_v;
        const DevMat out = poisoned(n, out_cols + 5, 2, out_cols);
        check(b().attention(cache, 1, qkv.cols(0, q_cols()), config(), batch.layout, out.cols(2, out_cols)), "attention");
        const std::vector<float> got = columns(fetch(out), out, 2, out_cols);

        std::vector<double> ref, scale;
        const AttentionConfig cfg = config();
        for (int64_t t = 0; t < n; ++t) {
            const int32_t pos = tokens[t].pos;
            const int64_t first = c().window > 0 ? std::max<int64_t>(0, pos - c().window + 1) : 0;
            for (int64_t h = 0; h < kHeads; ++h) {
                const int64_t kv = h / (kHeads / c().kv_heads);
                const float* q = fused.data() + t * fused_width() + h * c().head_dim_k;
                std::vector<double> scores;
                double max_v = 0;
                for (int64_t p = first; p <= pos; ++p) {
                    const auto it = stored_.find({tokens[t].seq, static_cast<int32_t>(p)});
                    if (it == stored_.end()) throw std::logic_error("the test never stored this position");
                    const float* key = it->second.first.data() + kv * c().head_dim_k;
                    double dot = 0;
                    for (int64_t d = 0; d < c().head_dim_k; ++d) dot += static_cast<double>(q[d]) * key[d];
                    double score = dot * cfg.scale;
                    if (cfg.softcap > 0) score = cfg.softcap * std::tanh(score / cfg.softcap);
                    scores.push_back(score);
                    for (int64_t d = 0; d < c().head_dim_v; ++d)
                        max_v = std::max(max_v, std::fabs(static_cast<double>(it->second.second[kv * c().head_dim_v + d])));
                }
                const double max_score = *std::max_element(scores.begin(), scores.end());
                double sum = 0;
                for (double& s : scores) sum += s = std::exp(s - max_score);
                std::vector<double> o(static_cast<size_t>(c().head_dim_v), 0.0);
                for (int64_t p = first; p <= pos; ++p) {
                    const float* value = stored_.at({tokens[t].seq, static_cast<int32_t>(p)}).second.data() + kv * c().head_dim_v;
                    for (int64_t d = 0; d < c().head_dim_v; ++d) o[d] += scores[p - first] / sum * value[d];
                }
                ref.insert(ref.end(), o.begin(), o.end());
                scale.insert(scale.end(), o.size(), max_v);
            }
        }
        expect_close("attention " + c().name, got, ref, scale, out_cols, kAttentionTolerance);
    }

    std::map<std::pair<int, int32_t>, std::pair<std::vector<float>, std::vector<float>>> stored_;
};

std::vector<Token> tokens_of(int seq, int32_t first, int32_t last) {
    std::vector<Token> t;
    for (int32_t p = first; p <= last; ++p) t.push_back({seq, p});
    return t;
}

std::vector<Token> concat(std::initializer_list<std::vector<Token>> parts) {
    std::vector<Token> all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
}

TEST_P(Attention, MatchesSoftmaxAttentionOverTheStoredKeys) {
    std::mt19937 rng(6000 + static_cast<unsigned>(std::get<1>(GetParam())));
    const KvCacheShape shape{.n_layers = kLayers, .n_kv_heads = c().kv_heads, .head_dim_k = c().head_dim_k,
                             .head_dim_v = c().head_dim_v, .block_size = c().block_size, .n_blocks = kBlocks,
                             .type = c().type};
    auto cache = check(b().create_kv_storage(shape), "create_kv_storage");
    ASSERT_EQ(cache->shape().head_dim_v, c().head_dim_v);
    {
        SCOPED_TRACE("first step: prompts of A (21 tokens) and B (5 tokens), interleaved");
        step(*cache, concat({tokens_of(0, 0, 10), tokens_of(1, 0, 4), tokens_of(0, 11, 20)}), rng);
    }
    {
        SCOPED_TRACE("second step: A's next chunk (positions 21..29) around B's decode token (position 5)");
        step(*cache, concat({tokens_of(0, 21, 24), tokens_of(1, 5, 5), tokens_of(0, 25, 29)}), rng);
    }
    {
        SCOPED_TRACE("third step: one decode token of each, B first");
        step(*cache, concat({tokens_of(1, 6, 6), tokens_of(0, 30, 30)}), rng);
    }
    // A long context: keys over several tiles and splits of a decode step.
    const auto last = static_cast<int32_t>(kMaxBlocksPerSeq * c().block_size - 1);
    {
        SCOPED_TRACE("fourth step: A's long prompt chunk up to the end of its block table");
        step(*cache, tokens_of(0, 31, last - 1), rng);
    }
    {
        SCOPED_TRACE("fifth step: one decode token of each, A at the last position its table holds");
        step(*cache, concat({tokens_of(0, last, last), tokens_of(1, 7, 7)}), rng);
    }
}

// rope_store_kv leaves the queries, the keys and the cache as rope, rope and store_kv do, bit for
// bit (partial NEOX rotation: the unrotated dimensions are stored too).
TEST_P(Attention, RopeStoreKvIsRopeRopeAndStoreKv) {
    std::mt19937 rng(6200);
    const KvCacheShape shape{.n_layers = kLayers, .n_kv_heads = c().kv_heads, .head_dim_k = c().head_dim_k,
                             .head_dim_v = c().head_dim_v, .block_size = c().block_size, .n_blocks = kBlocks,
                             .type = c().type};
    auto fused_cache = check(b().create_kv_storage(shape), "create_kv_storage");
    auto apart_cache = check(b().create_kv_storage(shape), "create_kv_storage");
    const std::vector<Token> tokens = concat({tokens_of(0, 0, 10), tokens_of(1, 0, 4)});
    const auto n = static_cast<int64_t>(tokens.size());
    Batch batch = make_batch(tokens);
    const RopeConfig rope{.style = RopeStyle::Neox, .n_dims = c().head_dim_k / 2, .freq_base = 10000.0f};
    const std::vector<float> values = random_values(rng, static_cast<size_t>(n * fused_width()));
    const DevMat fused = upload_mat(values, n, fused_width()), apart = upload_mat(values, n, fused_width());
    const auto q = [&](const DevMat& m) { return m.cols(0, q_cols()); };
    const auto k = [&](const DevMat& m) { return m.cols(q_cols(), k_cols()); };
    const auto v = [&](const DevMat& m) { return m.cols(q_cols() + k_cols(), v_cols()); };
    check(b().rope_store_kv(*fused_cache, 1, q(fused), k(fused), v(fused), c().head_dim_k, rope, batch.layout),
          "rope_store_kv");
    check(b().rope(q(apart), c().head_dim_k, batch.layout.positions, rope), "rope q");
    check(b().rope(k(apart), c().head_dim_k, batch.layout.positions, rope), "rope k");
    check(b().store_kv(*apart_cache, 1, k(apart), v(apart), batch.layout), "store_kv");
    expect_exact("queries and keys", fetch(fused), fetch(apart));
    const int64_t out_cols = kHeads * c().head_dim_v;
    const DevMat out_fused = poisoned(n, out_cols), out_apart = poisoned(n, out_cols);
    check(b().attention(*fused_cache, 1, q(apart), config(), batch.layout, out_fused.all()), "attention");
    check(b().attention(*apart_cache, 1, q(apart), config(), batch.layout, out_apart.all()), "attention");
    expect_exact("attention over the stored keys and values", fetch(out_fused), fetch(out_apart));
}

// Shapes that do not fit the cache are Errors; a slot outside the cache is an Error from store_kv
// or, on a GPU, at the latest from the next download; the cache then still works.
TEST_P(Attention, BadShapesAndSlotsAreErrors) {
    std::mt19937 rng(6100);
    const KvCacheShape shape{.n_layers = kLayers, .n_kv_heads = c().kv_heads, .head_dim_k = c().head_dim_k,
                             .head_dim_v = c().head_dim_v, .block_size = c().block_size, .n_blocks = kBlocks,
                             .type = c().type};
    auto cache = check(b().create_kv_storage(shape), "create_kv_storage");
    const std::vector<Token> tokens = tokens_of(0, 0, 2);
    Batch batch = make_batch(tokens);
    const DevMat qkv = upload_mat(random_values(rng, static_cast<size_t>(3 * fused_width()), 1.0f, 1.0f), 3, fused_width());
    const Act q = qkv.cols(0, q_cols()), k = qkv.cols(q_cols(), k_cols()), v = qkv.cols(q_cols() + k_cols(), v_cols());
    const DevMat out = poisoned(3, kHeads * c().head_dim_v);
    EXPECT_FALSE(b().store_kv(*cache, 0, qkv.cols(0, k_cols() + 2), v, batch.layout).ok()) << "store_kv: wide keys";
    EXPECT_FALSE(b().store_kv(*cache, kLayers, k, v, batch.layout).ok()) << "store_kv: layer out of range";
    EXPECT_FALSE(b().store_kv(*cache, 0, k.first_rows(2), v.first_rows(2), batch.layout).ok()) << "store_kv: 2 rows for 3 tokens";
    AttentionConfig wrong = config();
    wrong.n_kv_heads = c().kv_heads == 4 ? 2 : 4;
    EXPECT_FALSE(b().attention(*cache, 0, q, wrong, batch.layout, out.all()).ok()) << "attention: wrong KV head count";
    EXPECT_FALSE(b().attention(*cache, 0, qkv.cols(0, q_cols() - 2), config(), batch.layout, out.all()).ok())
        << "attention: short queries";
    EXPECT_FALSE(b().attention(*cache, 0, q, config(), batch.layout, out.all().first_rows(2)).ok())
        << "attention: 2 output rows for 3 tokens";
    EXPECT_FALSE(b().attention(*cache, kLayers, q, config(), batch.layout, out.all()).ok())
        << "attention: layer out of range";

    // A slot past the cache.
    const DeviceBuffer bad_slots = upload(std::vector<int32_t>{0, 1, static_cast<int32_t>(kBlocks * c().block_size)});
    BatchLayout bad = batch.layout;
    bad.kv_slots = bad_slots.i32();
    expect_reported(b().store_kv(*cache, 1, k, v, bad), out.buffer.f32(), out.size(),
                    fmt::format("store_kv into slot {} of {}", kBlocks * c().block_size, kBlocks * c().block_size));
    // The cache still works.
    step(*cache, tokens_of(0, 0, 4), rng);
}

INSTANTIATE_TEST_SUITE_P(Backends, Attention,
                         ::testing::Combine(::testing::ValuesIn(backends_under_test()),
                                            ::testing::Range<size_t>(0, kCases.size())),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {
                             return sanitize(std::get<0>(info.param) + "_" + kCases[std::get<1>(info.param)].name);
                         });

}  // namespace
}  // namespace rf::test::ops
