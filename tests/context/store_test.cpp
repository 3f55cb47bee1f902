// The context store on a small synthetic model: add, search, list, show, delete and clear; long
// texts chunked; errors for bad input; the index rebuilt when its file is missing, stale or
// damaged; concurrent searches beside a writer.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "context/index_set.h"
#include "context/node_store.h"
#include "context/store.h"
#include "engine/engine_fixture.h"
#include "temp_dir.h"

namespace rf::context {
namespace {

struct Fixture {
    engine::test::TinyModel model{TensorType::F32};
    std::unique_ptr<engine::Embedder> embedder;
    test::TempDir dir;
    Fixture() {
        auto e = engine::Embedder::create(*model.model, *model.tok, {.n_ctx = 128});
        EXPECT_TRUE(e.ok()) << e.error().message;
        embedder = std::move(*e);
    }
    std::unique_ptr<ContextStore> open(StoreOptions o = {.chunks = {.tokens = 32, .overlap = 8}}) {
        auto s = ContextStore::open(dir.str(), *embedder, "tiny#mean", o);
        EXPECT_TRUE(s.ok()) << s.error().message;
        return s.ok() ? std::move(*s) : nullptr;
    }
};

const std::vector<std::string> kTexts = {"apples and pears", "the quick brown fox", "0123456789", "zzz yyy xxx"};

TEST(ContextStore, AddThenSearchFindsTheSameTextFirst) {
    Fixture f;
    auto store = f.open();
    ASSERT_TRUE(store);
    std::vector<int64_t> ids;
    for (const std::string& t : kTexts) {
        auto a = store->add("notes", {.text = t});
        ASSERT_TRUE(a.ok()) << a.error().message;
        EXPECT_EQ(a->chunks, 0);
        ids.push_back(a->id);
    }
    for (size_t i = 0; i < kTexts.size(); ++i) {
        auto hits = store->search("notes", kTexts[i], 3);
        ASSERT_TRUE(hits.ok()) << hits.error().message;
        ASSERT_EQ(hits->size(), 3u);
        EXPECT_EQ((*hits)[0].node.id, ids[i]);
        EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4f);
        EXPECT_GE((*hits)[0].score, (*hits)[1].score);
    }
    auto listed = store->list("notes");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), kTexts.size());
    EXPECT_EQ(listed->front().id, ids.back());  // newest first
    // Messages with a reply edge.
    auto question = store->add("chat", {.text = "how are you", .kind = NodeKind::Message, .role = "user"});
    ASSERT_TRUE(question.ok());
    auto answer = store->add("chat", {.text = "fine", .kind = NodeKind::Message, .role = "assistant",
                                      .reply_to = question->id});
    ASSERT_TRUE(answer.ok()) << answer.error().message;
    auto shown = store->show("chat", answer->id);
    ASSERT_TRUE(shown.ok());
    EXPECT_EQ(shown->node.role, "assistant");
    ASSERT_EQ(shown->edges.size(), 1u);
    EXPECT_EQ(shown->edges[0].kind, EdgeKind::ReplyTo);
    EXPECT_EQ(shown->edges[0].dst, question->id);
    EXPECT_FALSE(store->add("chat", {.text = "x", .kind = NodeKind::Message, .reply_to = 999999}).ok());
}

TEST(ContextStore, LongTextsAreChunkedAndDeletedTogether) {
    Fixture f;
    auto store = f.open();
    std::string text;
    for (int i = 0; i < 40; ++i) text += "sentence number " + std::to_string(i) + " is here. ";
    auto a = store->add("docs", {.text = text, .metadata = R"({"file":"a.txt"})"});
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_GT(a->chunks, 3);
    auto hits = store->search("docs", "sentence number 7 is here.", 2);
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].node.kind, NodeKind::Chunk);
    EXPECT_EQ((*hits)[0].document, a->id);
    auto shown = store->show("docs", a->id);
    ASSERT_TRUE(shown.ok());
    EXPECT_EQ(shown->node.metadata, R"({"file":"a.txt"})");
    EXPECT_EQ(static_cast<int64_t>(shown->edges.size()), a->chunks);
    auto gone = store->remove("docs", a->id);
    ASSERT_TRUE(gone.ok()) << gone.error().message;
    EXPECT_EQ(*gone, a->chunks + 1);
    hits = store->search("docs", "sentence", 2);
    ASSERT_TRUE(hits.ok());
    EXPECT_TRUE(hits->empty());
}

// Vectors without a model: the counts of each token (of a vocabulary under 320) scaled to unit
// length, so that texts sharing words are near. For tests of sizes a model would take long over.
class CountingEmbedder : public engine::TextEmbedder {
public:
    explicit CountingEmbedder(const tokenizer::Tokenizer& tok) : tok_(&tok) {}
    std::vector<int32_t> tokenize(std::string_view text) const override {
        return tok_->encode(text, {.add_special = false, .parse_special = false});
    }
    Result<std::vector<float>> embed_tokens(std::span<const int32_t> tokens) override {
        if (tokens.empty()) return make_error("no tokens");
        std::vector<float> v(320, 0.0f);
        for (int32_t t : tokens) v[static_cast<size_t>(t) % v.size()] += 1.0f;
        double norm = 0.0;
        for (float x : v) norm += double{x} * x;
        for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
        return v;
    }
    int64_t dimension() const override { return 320; }
    int64_t n_ctx() const override { return 8192; }
    const tokenizer::Tokenizer& tokenizer() const override { return *tok_; }

private:
    const tokenizer::Tokenizer* tok_;
};

// A 10 MB text is one document of a few thousand chunks, each stored, embedded and found.
TEST(ContextStore, TenMegabyteTextIsChunkedWhole) {
    Fixture f;
    CountingEmbedder counting(*f.model.tok);
    auto opened = ContextStore::open(f.dir.str(), counting, "counting", {.chunks = {.tokens = 4096, .overlap = 64}});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    auto& store = **opened;
    const std::vector<std::string> words = {"alpha ", "beta ", "gamma ", "delta ", "epsilon "};
    std::string text;
    text.reserve(10u << 20);
    for (size_t i = 0; text.size() < (10u << 20); ++i) {
        text += words[(i * 7 + i / 5) % words.size()];
        if (i == 1'000'000)  // one passage unlike the rest
            for (int r = 0; r < 300; ++r) text += "zzz qqq ";
    }
    auto a = store.add("big", {.text = text});
    ASSERT_TRUE(a.ok()) << a.error().message;
    const int64_t tokens = a->tokens;
    EXPECT_EQ(a->chunks, static_cast<int64_t>(chunk_ranges(static_cast<size_t>(tokens), {.tokens = 4096, .overlap = 64}).size()));
    EXPECT_GT(a->chunks, 1000);
    auto shown = store.show("big", a->id);
    ASSERT_TRUE(shown.ok()) << shown.error().message;
    EXPECT_EQ(shown->node.text.size(), text.size());
    EXPECT_EQ(static_cast<int64_t>(shown->edges.size()), a->chunks);
    auto hits = store.search("big", "zzz zzz qqq qqq", 1);
    ASSERT_TRUE(hits.ok()) << hits.error().message;
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].document, a->id);
    // (The synthetic vocabulary spells a space as the bytes of "▁", which the chunk text keeps.)
    EXPECT_NE((*hits)[0].node.text.find("zzz"), std::string::npos) << (*hits)[0].node.text.substr(0, 200);
    EXPECT_NE((*hits)[0].node.text.find("qqq"), std::string::npos);
}

TEST(ContextStore, BadInputIsAClearError) {
    Fixture f;
    auto store = f.open();
    ASSERT_TRUE(store->add("ns", {.text = "something"}).ok());
    auto empty = store->add("ns", {.text = "  \n"});
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
    auto unknown = store->search("nowhere", "x", 3);
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("unknown namespace 'nowhere'"), std::string::npos);
    EXPECT_FALSE(store->list("nowhere").ok());
    EXPECT_FALSE(store->clear("nowhere").ok());
    EXPECT_FALSE(store->add("../etc", {.text = "x"}).ok());
    EXPECT_FALSE(store->add("ns", {.text = "x", .metadata = "[1]"}).ok());
    EXPECT_FALSE(store->search("ns", "", 3).ok());
    EXPECT_FALSE(store->search("ns", "x", 0).ok());
    EXPECT_FALSE(store->show("ns", 424242).ok());
    EXPECT_FALSE(store->remove("ns", 424242).ok());
    EXPECT_FALSE(ContextStore::open(f.dir.str(), *f.embedder, "m", {.chunks = {.tokens = 500, .overlap = 0}}).ok());
}

TEST(ContextStore, IndexIsRebuiltWhenMissingStaleOrCorrupt) {
    Fixture f;
    std::string index_path;
    {
        auto store = f.open();
        for (const std::string& t : kTexts) ASSERT_TRUE(store->add("ns", {.text = t}).ok());
        index_path = store->indexes().path("ns");
        EXPECT_TRUE(std::filesystem::exists(index_path));
    }
    auto expect_found = [&](ContextStore& s) {
        auto hits = s.search("ns", kTexts[1], 1);
        ASSERT_TRUE(hits.ok()) << hits.error().message;
        ASSERT_EQ(hits->size(), 1u);
        EXPECT_EQ((*hits)[0].node.text, kTexts[1]);
    };
    {  // the saved index is current: loaded, not rebuilt
        auto store = f.open();
        expect_found(*store);
        EXPECT_EQ(store->indexes().rebuilds(), 0);
    }
    {
        std::fstream file(index_path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(200);
        file.put('\x77');
    }
    {
        auto store = f.open();
        expect_found(*store);
        EXPECT_EQ(store->indexes().rebuilds(), 1);
        EXPECT_EQ(store->indexes().last_rebuild_reason(), "corrupt");
    }
    std::filesystem::remove(index_path);
    {
        auto store = f.open();
        expect_found(*store);
        EXPECT_EQ(store->indexes().last_rebuild_reason(), "missing");
    }
    {  // another store (as another process would) writes: this one's index goes stale
        auto reader = f.open();
        expect_found(*reader);
        auto writer = f.open();
        auto added = writer->add("ns", {.text = "a late addition"});
        ASSERT_TRUE(added.ok());
        auto hits = reader->search("ns", "a late addition", 1);
        ASSERT_TRUE(hits.ok());
        ASSERT_EQ(hits->size(), 1u);
        EXPECT_EQ((*hits)[0].node.id, added->id);
    }
    {  // cleared: the namespace stays known but empty
        auto store = f.open();
        auto n = store->clear("ns");
        ASSERT_TRUE(n.ok());
        EXPECT_EQ(*n, static_cast<int64_t>(kTexts.size()) + 1);
        auto hits = store->search("ns", kTexts[1], 3);
        ASSERT_TRUE(hits.ok());
        EXPECT_TRUE(hits->empty());
    }
}

// IndexSet::follow, a write's follow-up (one call under the set's lock, so that no search can
// rebuild the index between the check and the update): with no index it says so; when a search
// rebuilt the index as of the new revision after the commit, it keeps that one (no second build,
// no drop); with the index of the revision before, it applies the write.
TEST(IndexSet, AWriteIsFollowedOnceWhateverCameBetween) {
    test::TempDir dir;
    auto db = NodeStore::open(dir.str() + "/nodes.db");
    ASSERT_TRUE(db.ok()) << db.error().message;
    IndexSet set(dir.str(), "m", 4, {});
    const auto write = [&](float x) {  // one node; returns the revisions before and after
        auto tx = db->begin();
        EXPECT_TRUE(tx.ok());
        const int64_t before = *db->revision("ns", "m");
        auto id = db->add_node("ns", NodeKind::Document, "", "t", "{}");
        EXPECT_TRUE(id.ok());
        const float v[4] = {x, 1.0f, 0.0f, 0.0f};
        EXPECT_TRUE(db->put_embedding(*id, "m", v).ok());
        EXPECT_TRUE(db->bump_revisions("ns", "m").ok());
        const int64_t after = *db->revision("ns", "m");
        EXPECT_TRUE(tx->commit().ok());
        return std::pair{before, after};
    };
    int applied = 0;
    const auto apply = [&](VectorIndex&) {
        ++applied;
        return ok_status();
    };
    auto [b1, a1] = write(1.0f);
    auto none = set.follow("ns", b1, a1, apply);  // nothing built yet: the caller builds
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none);
    ASSERT_TRUE(set.current(*db, "ns", a1).ok());
    EXPECT_EQ(set.rebuilds(), 1);
    auto [b2, a2] = write(2.0f);
    ASSERT_TRUE(set.current(*db, "ns", a2).ok());  // a search between the commit and the follow-up
    EXPECT_EQ(set.rebuilds(), 2);
    auto kept = set.follow("ns", b2, a2, apply);
    ASSERT_TRUE(kept.ok());
    EXPECT_TRUE(*kept);
    EXPECT_EQ(applied, 0);  // the rebuilt index holds the write already
    ASSERT_TRUE(set.current(*db, "ns", a2).ok());
    EXPECT_EQ(set.rebuilds(), 2);  // still that one
    auto [b3, a3] = write(3.0f);
    auto followed = set.follow("ns", b3, a3, apply);
    ASSERT_TRUE(followed.ok());
    EXPECT_TRUE(*followed);
    EXPECT_EQ(applied, 1);
    ASSERT_TRUE(set.current(*db, "ns", a3).ok());
    EXPECT_EQ(set.rebuilds(), 2);
}

TEST(ContextStore, ConcurrentSearchesBesideAWriter) {
    Fixture f;
    auto store = f.open();
    for (const std::string& t : kTexts) ASSERT_TRUE(store->add("ns", {.text = t}).ok());
    std::atomic<int> failures{0}, searches{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r)
        readers.emplace_back([&, r] {
            for (int i = 0; i < 10; ++i) {
                auto hits = store->search("ns", kTexts[static_cast<size_t>(r + i) % kTexts.size()], 2);
                if (!hits.ok() || hits->empty()) ++failures;
                ++searches;
            }
        });
    for (int i = 0; i < 10; ++i)
        if (!store->add("ns", {.text = "written meanwhile " + std::to_string(i)}).ok()) ++failures;
    for (auto& t : readers) t.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(searches, 30);
    auto listed = store->list("ns", 1000);
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), kTexts.size() + 10);
}

}  // namespace
}  // namespace rf::context
