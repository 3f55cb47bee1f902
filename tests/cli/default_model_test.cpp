// Without -m, generate, chat and serve look for the demo model; when it is in none of the places,
// the error says so and lists every place looked, in order (src/cli/default_model.h; issue 20).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cli/default_model.h"

namespace rf::cli {
namespace {

TEST(DefaultModel, NotFoundListsEveryPlaceLooked) {
    const std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / "rf_default_model_empty";
    std::filesystem::create_directories(root / "a");
    const std::vector<std::filesystem::path> places = {root / "a", root / "b", "/nonexistent/rocmforge"};
    auto found = find_demo_model(places);
    ASSERT_FALSE(found);
    const std::string& message = found.error().message;
    EXPECT_NE(message.find("no model given (-m FILE)"), std::string::npos) << message;
    EXPECT_NE(message.find(kDemoModelFile), std::string::npos) << message;
    size_t previous = 0;
    for (const auto& place : places) {
        const size_t at = message.find("\n  " + place.string());
        ASSERT_NE(at, std::string::npos) << place << " missing from: " << message;
        EXPECT_GT(at, previous) << "places out of order: " << message;
        previous = at;
    }
    auto nowhere = find_demo_model({});
    ASSERT_FALSE(nowhere);
    EXPECT_NE(nowhere.error().message.find("no place known"), std::string::npos) << nowhere.error().message;
    std::filesystem::remove_all(root);
}

TEST(DefaultModel, TheFirstPlaceHoldingTheFileWins) {
    const std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / "rf_default_model_found";
    for (const char* dir : {"a", "b", "c"}) std::filesystem::create_directories(root / dir);
    std::ofstream(root / "b" / kDemoModelFile) << "x";
    std::ofstream(root / "c" / kDemoModelFile) << "x";
    // A directory of the model's name is not the model.
    std::filesystem::create_directories(root / "a" / kDemoModelFile);
    auto found = find_demo_model({root / "a", root / "b", root / "c"});
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(*found, (root / "b" / kDemoModelFile).string());
    EXPECT_EQ(*model_or_demo("given.gguf", [](std::string_view, const std::string&) {}), "given.gguf");
    std::filesystem::remove_all(root);
}

// The places this binary looks include the source tree's demo/ folder, last.
TEST(DefaultModel, PlacesEndWithTheSourceTree) {
    const auto places = demo_model_places();
    ASSERT_FALSE(places.empty());
    EXPECT_EQ(places.back(), std::filesystem::path(ROCMFORGE_SOURCE_DIR) / "demo");
}

}  // namespace
}  // namespace rf::cli
