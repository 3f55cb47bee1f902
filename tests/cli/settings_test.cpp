// Options from the command line, ROCMFORGE_* variables and the config file, in that order of
// precedence (src/cli/settings.h, docs/configuration.md; issue 20).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "cli/settings.h"

namespace rf::cli {
namespace {

using rf::test::CommandResult;
using rf::test::run_command;

TEST(ConfigFile, ParsesKeysSectionsCommentsAndQuotes) {
    auto file = parse_config("# defaults\nthreads = 4\nctx_size=2048 # inline\n\n[serve]\nhost = \"0.0.0.0\"\n"
                             "api-key = \"a \\\"b\\\" # c\"\n",
                             "f.conf");
    ASSERT_TRUE(file) << file.error().message;
    ASSERT_EQ(file->entries.size(), 4u);
    EXPECT_EQ(file->entries[0].key, "threads");
    EXPECT_EQ(file->entries[0].value, "4");
    EXPECT_EQ(file->entries[0].section, "");
    EXPECT_EQ(file->entries[1].key, "ctx-size");
    EXPECT_EQ(file->entries[1].value, "2048");
    EXPECT_EQ(file->entries[2].section, "serve");
    EXPECT_EQ(file->entries[2].value, "0.0.0.0");
    EXPECT_EQ(file->entries[3].value, "a \"b\" # c");
    EXPECT_EQ(file->entries[3].line, 7);
}

TEST(ConfigFile, BadLinesAreErrorsNamingFileAndLine) {
    for (const char* text : {"threads 4\n", "[serve\n", "x = \"open\n", "a b = 1\n"}) {
        auto file = parse_config(std::string("# ok\n") + text, "f.conf");
        ASSERT_FALSE(file) << text;
        EXPECT_NE(file.error().message.find("f.conf:2:"), std::string::npos) << file.error().message;
    }
}

TEST(ConfigFile, EnvironmentNames) {
    EXPECT_EQ(env_name("ctx-size"), "ROCMFORGE_CTX_SIZE");
    EXPECT_EQ(env_name("log-level"), "ROCMFORGE_LOG_LEVEL");
}

TEST(ConfigFile, PathFromTheFlagTheVariableOrTheDefaults) {
    const std::string dir = ::testing::TempDir();
    const std::string present = dir + "rf_settings_present.conf";
    std::ofstream(present) << "threads = 1\n";
    unsetenv(kConfigEnv);
    auto none = config_path({"rocmforge", "serve"}, {dir + "rf_settings_absent.conf"});
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    auto by_default = config_path({"rocmforge", "serve"}, {dir + "rf_settings_absent.conf", present});
    ASSERT_TRUE(by_default && *by_default);
    EXPECT_EQ(**by_default, present);
    auto flag = config_path({"rocmforge", "serve", "--config=" + present}, {});
    ASSERT_TRUE(flag && *flag);
    auto missing = config_path({"rocmforge", "serve", "--config", dir + "rf_settings_absent.conf"}, {present});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
    setenv(kConfigEnv, present.c_str(), 1);
    auto env = config_path({"rocmforge", "chat"}, {});
    unsetenv(kConfigEnv);
    ASSERT_TRUE(env && *env);
    EXPECT_EQ(**env, present);
    std::remove(present.c_str());
}

// `generate --json` prints the seed it used: the flag beats the variable, which beats the file,
// whose [generate] section beats its top-level key, which beats the default.
TEST(Settings, FlagOverEnvironmentOverConfigOverDefault) {
    const std::string conf = ::testing::TempDir() + "rf_settings_precedence.conf";
    std::ofstream(conf) << "seed = 11\nthreads = 1\n[generate]\nseed = 12\n[serve]\nport = 9\n";
    const std::string run = rf::test::rocmforge("generate -p x -n 1 --json ");
    auto seed_of = [](const CommandResult& r) {
        const auto j = nlohmann::json::parse(r.output, nullptr, false);
        return j.is_object() ? j.value("seed", int64_t{-1}) : int64_t{-1};
    };
    const CommandResult flag_alone = run_command("env -u ROCMFORGE_SEED " + run + "-t 1 -s 10 2>/dev/null");
    EXPECT_EQ(seed_of(flag_alone), 10) << flag_alone.output;
    const CommandResult from_file = run_command("env -u ROCMFORGE_SEED " + run + "--config " + conf + " 2>/dev/null");
    EXPECT_EQ(seed_of(from_file), 12) << from_file.output;
    const CommandResult from_env =
        run_command("ROCMFORGE_SEED=13 ROCMFORGE_CONFIG=" + conf + " " + run + "2>/dev/null");
    EXPECT_EQ(seed_of(from_env), 13) << from_env.output;
    const CommandResult from_flag = run_command("ROCMFORGE_SEED=13 " + run + "--config=" + conf + " -s 14 2>/dev/null");
    EXPECT_EQ(seed_of(from_flag), 14) << from_flag.output;
    std::remove(conf.c_str());
}

TEST(Settings, MistakesInTheFileAreUsageErrorsNamingTheLine) {
    const std::string conf = ::testing::TempDir() + "rf_settings_bad.conf";
    const struct {
        const char* text;
        const char* says;
    } cases[] = {
        {"threads = 1\nno-such-option = 3\n", ":2: 'no-such-option' is not an option"},
        {"[generate]\nport = 8\n", ":2: 'port' is not an option of `generate`"},
        {"[bench]\nthreads = 1\n", ":2: unknown section [bench]"},
        {"threads = many\n", ":1: threads = many"},
        {"prompt = hi\n", ":1: 'prompt' is not an option"},
    };
    for (const auto& c : cases) {
        std::ofstream(conf) << c.text;
        const CommandResult r = run_command(rf::test::rocmforge("generate -p x -n 1 --config " + conf + " 2>&1"));
        EXPECT_EQ(r.exit_code, 2) << c.text << r.output;
        EXPECT_NE(r.output.find(c.says), std::string::npos) << c.text << r.output;
    }
    const CommandResult env = run_command("ROCMFORGE_THREADS=many " + rf::test::rocmforge("generate -p x -n 1 2>&1"));
    EXPECT_EQ(env.exit_code, 2) << env.output;
    EXPECT_NE(env.output.find("not a number"), std::string::npos) << env.output;
    std::remove(conf.c_str());
}

}  // namespace
}  // namespace rf::cli
