// Hub model names (REPO[:FILE|:QUANT]) and which GGUF file of a repository they pick.
#include <gtest/gtest.h>

#include "hub/model_ref.h"

namespace rf::hub {
namespace {

TEST(HubModelRef, ParsesRepoQuantAndFile) {
    auto q = parse_model_ref("Qwen/Qwen2-0.5B-Instruct-GGUF:q4_k_m");
    ASSERT_TRUE(q.ok()) << q.error().message;
    EXPECT_EQ(q->repo, "Qwen/Qwen2-0.5B-Instruct-GGUF");
    EXPECT_EQ(q->quant, "q4_k_m");
    EXPECT_TRUE(q->file.empty());
    auto f = parse_model_ref("hf.co/acme/x-GGUF:sub/model-Q8_0.gguf");
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->repo, "acme/x-GGUF");
    EXPECT_EQ(f->file, "sub/model-Q8_0.gguf");
    auto bare = parse_model_ref("acme/x-GGUF");
    ASSERT_TRUE(bare.ok());
    EXPECT_TRUE(bare->file.empty() && bare->quant.empty());
    for (const char* bad : {"noslash", "a/b/c", "../x/y", "acme/x:", "acme/x:../../etc.gguf", "/abs/path", "a /b"})
        EXPECT_FALSE(parse_model_ref(bad).ok()) << bad;
}

TEST(HubModelRef, TellsPathsFromRefs) {
    EXPECT_TRUE(looks_like_model_ref("acme/x-GGUF:Q4_K_M"));
    EXPECT_TRUE(looks_like_model_ref("acme/x-GGUF"));
    EXPECT_FALSE(looks_like_model_ref("models/x.gguf"));  // a (missing) file keeps its "no such file" error
    EXPECT_FALSE(looks_like_model_ref("/abs/x.gguf"));
    EXPECT_FALSE(looks_like_model_ref("./models/x.gguf"));
    EXPECT_FALSE(looks_like_model_ref("x.gguf"));
}

TEST(HubModelRef, QuantTagOfFileNames) {
    EXPECT_EQ(quant_of("qwen2-0_5b-instruct-q4_k_m.gguf"), "Q4_K_M");
    EXPECT_EQ(quant_of("Llama-3.2-1B-Instruct.Q8_0.gguf"), "Q8_0");
    EXPECT_EQ(quant_of("model-IQ4_XS.gguf"), "IQ4_XS");
    EXPECT_EQ(quant_of("model-f16.gguf"), "F16");
    EXPECT_EQ(quant_of("model.gguf"), "");
}

TEST(HubModelRef, PicksOneFileOrListsThem) {
    const std::vector<HubFile> files = {{"m-Q4_K_M.gguf", 10, ""}, {"m-Q4_K_S.gguf", 10, ""}, {"m-Q8_0.gguf", 10, ""},
                                        {"README.md", 1, ""}, {"big-Q2_K-00001-of-00002.gguf", 5, ""}};
    auto q4 = pick_gguf({"a/b", "", "q4_k_s"}, files);
    ASSERT_TRUE(q4.ok()) << q4.error().message;
    EXPECT_EQ(q4->path, "m-Q4_K_S.gguf");  // Q4_K does not match Q4_K_M's neighbour by prefix
    auto dflt = pick_gguf({"a/b", "", ""}, files);
    ASSERT_TRUE(dflt.ok());
    EXPECT_EQ(dflt->path, "m-Q4_K_M.gguf");  // several files, none named: Q4_K_M as llama.cpp
    auto none = pick_gguf({"a/b", "", "Q4_K"}, files);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("m-Q8_0.gguf"), std::string::npos) << none.error().message;
    EXPECT_EQ(none.error().message.find("README"), std::string::npos);
    EXPECT_EQ(none.error().message.find("00001-of"), std::string::npos);  // shards are not offered
    auto named = pick_gguf({"a/b", "m-Q8_0.gguf", ""}, files);
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(named->path, "m-Q8_0.gguf");
    EXPECT_FALSE(pick_gguf({"a/b", "missing.gguf", ""}, files).ok());
    EXPECT_FALSE(pick_gguf({"a/b", "", ""}, {{"m-Q8_0.gguf", 1, ""}, {"m-Q6_K.gguf", 1, ""}}).ok());
}

}  // namespace
}  // namespace rf::hub
