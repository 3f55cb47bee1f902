// The data-access layer: schema creation and versioning, nodes and edges with foreign keys,
// deletion of a document with its chunks, revisions, and clear errors for files that are not
// usable databases.
#include <gtest/gtest.h>

#include <fstream>

#include "context/node_store.h"
#include "context/schema.h"
#include "temp_dir.h"

namespace rf::context {
namespace {

TEST(NodeStore, CreatesTheSchemaAndKeepsNodesAcrossOpens) {
    test::TempDir dir;
    int64_t doc = 0;
    {
        auto store = NodeStore::open(dir.str("c.db"));
        ASSERT_TRUE(store.ok()) << store.error().message;
        auto tx = store->begin();
        ASSERT_TRUE(tx.ok());
        auto id = store->add_node("ns", NodeKind::Document, "", "hello", R"({"src":"a"})");
        ASSERT_TRUE(id.ok()) << id.error().message;
        doc = *id;
        auto chunk = store->add_node("ns", NodeKind::Chunk, "", "he", "{}");
        ASSERT_TRUE(chunk.ok());
        ASSERT_TRUE(store->add_edge(*chunk, doc, EdgeKind::PartOf).ok());
        const std::vector<float> v = {0.6f, 0.8f};
        ASSERT_TRUE(store->put_embedding(*chunk, "m", v).ok());
        ASSERT_TRUE(store->bump_revisions("ns", "m").ok());
        ASSERT_TRUE(tx->commit().ok());
    }
    auto store = NodeStore::open(dir.str("c.db"));
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto node = store->node("ns", doc);
    ASSERT_TRUE(node.ok() && node->has_value());
    EXPECT_EQ((*node)->text, "hello");
    EXPECT_EQ((*node)->metadata, R"({"src":"a"})");
    EXPECT_GT((*node)->created_ms, 0);
    EXPECT_FALSE(store->node("other", doc)->has_value());  // namespaces are apart
    EXPECT_EQ(*store->revision("ns", "m"), 1);
    EXPECT_EQ(*store->count("ns"), 1);  // chunks are not counted
    std::vector<std::pair<int64_t, std::vector<float>>> seen;
    ASSERT_TRUE(store->for_each_embedding("ns", "m", [&](int64_t id, std::span<const float> v) {
                         seen.emplace_back(id, std::vector<float>(v.begin(), v.end()));
                         return ok_status();
                     }).ok());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].second, (std::vector<float>{0.6f, 0.8f}));
    // Deleting the document takes its chunk, the chunk's edge and embedding along.
    auto tx = store->begin();
    auto gone = store->delete_node("ns", doc);
    ASSERT_TRUE(gone.ok()) << gone.error().message;
    EXPECT_EQ(gone->size(), 2u);
    ASSERT_TRUE(tx->commit().ok());
    EXPECT_EQ(*store->revision("ns", "m"), 2);
    int embeddings = 0;
    ASSERT_TRUE(store->for_each_embedding("ns", "m", [&](int64_t, std::span<const float>) {
                         ++embeddings;
                         return ok_status();
                     }).ok());
    EXPECT_EQ(embeddings, 0);
}

TEST(NodeStore, ConstraintsHold) {
    test::TempDir dir;
    auto store = NodeStore::open(dir.str("c.db"));
    ASSERT_TRUE(store.ok());
    EXPECT_FALSE(store->add_edge(12345, 67890, EdgeKind::ReplyTo).ok());        // foreign keys are on
    EXPECT_FALSE(store->add_node("ns", NodeKind::Message, "user", "x", "{not json").ok());
    EXPECT_FALSE(store->add_node("bad/ns", NodeKind::Message, "user", "x", "{}").ok());
    EXPECT_FALSE(check_namespace("").ok());
    EXPECT_FALSE(check_namespace(".hidden").ok());
    EXPECT_FALSE(check_namespace(std::string(65, 'a')).ok());
    EXPECT_TRUE(check_namespace("notes-2026_v1.0").ok());
    EXPECT_FALSE(parse_node_kind("page").ok());
    EXPECT_EQ(*parse_edge_kind("reply-to"), EdgeKind::ReplyTo);
    EXPECT_FALSE(*store->exists("ns"));
}

TEST(NodeStore, UnusableFilesAreClearErrors) {
    test::TempDir dir;
    {
        std::ofstream junk(dir.str("junk.db"), std::ios::binary);
        for (int i = 0; i < 4096; ++i) junk.put(static_cast<char>(i * 37 + 11));
    }
    auto junk = NodeStore::open(dir.str("junk.db"));
    ASSERT_FALSE(junk.ok());
    EXPECT_NE(junk.error().message.find("junk.db"), std::string::npos) << junk.error().message;
    // A database from a newer build is refused, not misread.
    {
        auto db = Database::open(dir.str("new.db"));
        ASSERT_TRUE(db.ok());
        ASSERT_TRUE(db->exec("PRAGMA user_version = 99").ok());
    }
    auto newer = NodeStore::open(dir.str("new.db"));
    ASSERT_FALSE(newer.ok());
    EXPECT_NE(newer.error().message.find("newer"), std::string::npos) << newer.error().message;
    // A directory where the file should be.
    std::filesystem::create_directories(dir.path() / "dir.db");
    EXPECT_FALSE(NodeStore::open(dir.str("dir.db")).ok());
}

}  // namespace
}  // namespace rf::context
