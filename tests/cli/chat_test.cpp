// `rocmforge chat` (issue 22): the conversation's slash commands and file form as units, and the
// command itself driven over a pipe on the demo model (its default without -m): /help, /system,
// /clear, /save and /load, /stats, and a context too small for the conversation, which drops the
// oldest turns instead of ending the chat.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/chat_conversation.h"
#include "run_command.h"

namespace rf::cli {
namespace {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

ordered_json msg(const char* role, const char* content) { return {{"role", role}, {"content", content}}; }

TEST(ChatConversation, SystemMessageStaysFirstAndSurvivesClear) {
    Conversation c;
    c.messages.push_back(msg("user", "hi"));
    c.set_system("be brief");
    ASSERT_NE(c.system(), nullptr);
    EXPECT_EQ(*c.system(), "be brief");
    EXPECT_EQ(c.messages[0]["role"], "system");
    c.set_system("be kind");
    EXPECT_EQ(c.messages.size(), 2u);
    c.clear();
    EXPECT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(*c.system(), "be kind");
    c.set_system("");
    EXPECT_EQ(c.system(), nullptr);
    EXPECT_TRUE(c.messages.empty());
}

TEST(ChatConversation, DropsTheOldestTurnButNeverTheLastUserMessage) {
    Conversation c;
    c.set_system("s");
    for (const char* m : {"u1", "a1", "u2", "a2", "u3"}) c.messages.push_back(msg(m[0] == 'u' ? "user" : "assistant", m));
    ASSERT_TRUE(c.drop_oldest_turn());
    EXPECT_EQ(c.messages.size(), 4u);
    EXPECT_EQ(c.messages[0]["content"], "s");
    EXPECT_EQ(c.messages[1]["content"], "u2");
    ASSERT_TRUE(c.drop_oldest_turn());
    EXPECT_EQ(c.messages[1]["content"], "u3");
    EXPECT_FALSE(c.drop_oldest_turn());
    EXPECT_EQ(c.messages.size(), 2u);
}

TEST(ChatConversation, FileRoundTripAndBadFiles) {
    const fs::path dir = fs::temp_directory_path() / ("rf_chat_unit_" + std::to_string(getpid()));
    fs::create_directories(dir);
    Conversation c;
    c.set_system("s");
    c.messages.push_back(msg("user", "héllo \"quoted\"\n"));
    c.messages.push_back(msg("assistant", "ok"));
    ASSERT_TRUE(save_conversation(c, (dir / "c.json").string()));
    auto back = load_conversation((dir / "c.json").string());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->messages, c.messages);

    EXPECT_TRUE(conversation_from_json(ordered_json::array({msg("user", "bare array")})));
    EXPECT_FALSE(conversation_from_json(ordered_json::array({msg("robot", "x")})));
    EXPECT_FALSE(conversation_from_json(ordered_json::array({msg("user", "x"), msg("system", "late")})));
    EXPECT_FALSE(conversation_from_json(ordered_json{{"messages", 3}}));
    EXPECT_FALSE(conversation_from_json(ordered_json::array({{{"role", "user"}, {"content", 5}}})));
    std::ofstream(dir / "bad.json") << "{not json";
    auto bad = load_conversation((dir / "bad.json").string());
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("not valid JSON"), std::string::npos);
    EXPECT_FALSE(load_conversation((dir / "missing.json").string()));
    fs::remove_all(dir);
}

TEST(ChatConversation, ParsesSlashCommands) {
    EXPECT_FALSE(parse_slash_command("hello /save"));
    auto c = parse_slash_command("/system   You are terse.  ");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "system");
    EXPECT_EQ(c->argument, "You are terse.");
    c = parse_slash_command("/clear");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "clear");
    EXPECT_EQ(c->argument, "");
}

// rocmforge chat on the demo model with `script` as its stdin (a pipe, so no line editing).
class ChatCommand : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("rf_chat_e2e_" + std::to_string(getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    test::CommandResult chat(const std::string& args, const std::string& script) {
        std::ofstream(dir_ / "input.txt") << script;
        // HOME points into the test's folder: a terminal run would keep its history there.
        return test::run_command("HOME=" + dir_.string() + " " +
                                 test::rocmforge("chat -t 2 --temp 0 " + args + " < " + (dir_ / "input.txt").string() +
                                                 " 2>&1"));
    }
    std::string file(const char* name) const { return (dir_ / name).string(); }
    ordered_json read_json(const char* name) const {
        std::ifstream in(dir_ / name);
        std::stringstream s;
        s << in.rdbuf();
        return ordered_json::parse(s.str(), nullptr, false);
    }

    fs::path dir_;
};

TEST_F(ChatCommand, SlashCommandsAndSaveLoadRoundTrip) {
    const auto r = chat("-n 8 --stats", "/help\n/nonsense\n/system Speak as a player.\nROMEO:\n/save " + file("a.json") +
                                            "\n/clear\n/save " + file("cleared.json") + "\n/load " + file("a.json") +
                                            "\n/save " + file("b.json") + "\n/load " + file("missing.json") +
                                            "\n/stats\nJULIET:\n/save " + file("c.json") + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("/save FILE"), std::string::npos) << r.output;               // /help
    EXPECT_NE(r.output.find("unknown command /nonsense"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("[system prompt set]"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tokens/s"), std::string::npos) << r.output;                 // --stats
    EXPECT_NE(r.output.find("error: cannot read"), std::string::npos) << r.output;       // a bad /load goes on
    EXPECT_NE(r.output.find("[speed no longer shown]"), std::string::npos) << r.output;  // /stats toggles

    const ordered_json a = read_json("a.json"), cleared = read_json("cleared.json"), b = read_json("b.json"),
                       c = read_json("c.json");
    ASSERT_EQ(a["messages"].size(), 3u) << a.dump();
    EXPECT_EQ(a["messages"][0], msg("system", "Speak as a player."));
    EXPECT_EQ(a["messages"][1], msg("user", "ROMEO:"));
    EXPECT_EQ(a["messages"][2]["role"], "assistant");
    EXPECT_FALSE(a["messages"][2]["content"].get<std::string>().empty());
    EXPECT_EQ(cleared["messages"], ordered_json::array({msg("system", "Speak as a player.")}));  // /clear keeps it
    EXPECT_EQ(b, a);                                                                             // /load restores
    ASSERT_EQ(c["messages"].size(), 5u) << c.dump();  // the loaded conversation continued
    EXPECT_EQ(c["messages"][3], msg("user", "JULIET:"));
}

TEST_F(ChatCommand, ContextOverflowDropsTheOldestTurnsKeepingTheSystemMessage) {
    std::string script = "/system Be brief.\n";
    for (int i = 0; i < 8; ++i) script += "ROMEO: But soft, what light through yonder window breaks? " + std::to_string(i) + "\n";
    script += "/save " + file("end.json") + "\n";
    // A message that cannot fit at all is refused, the conversation stays as it was, and goes on.
    script += std::string(2000, 'x') + "\n/save " + file("refused.json") + "\nJULIET:\n/save " + file("after.json") + "\n";
    const auto r = chat("-c 96 -n 16", script);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("[context full: dropped "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("do not fit the context of 96 tokens"), std::string::npos) << r.output;
    const ordered_json end = read_json("end.json"), after = read_json("after.json");
    EXPECT_EQ(read_json("refused.json"), end);
    ASSERT_TRUE(end["messages"].is_array()) << r.output;
    EXPECT_LT(end["messages"].size(), 17u);
    EXPECT_EQ(end["messages"][0], msg("system", "Be brief."));
    EXPECT_EQ(end["messages"][end["messages"].size() - 2]["content"],
              "ROMEO: But soft, what light through yonder window breaks? 7");
    ASSERT_TRUE(after["messages"].is_array());
    EXPECT_EQ(after["messages"][0], msg("system", "Be brief."));
    EXPECT_EQ(after["messages"][after["messages"].size() - 2], msg("user", "JULIET:"));
    for (const auto& m : after["messages"]) EXPECT_NE(m["content"], std::string(2000, 'x'));
}

TEST_F(ChatCommand, ExitsAtEndOfInputAndOnExit) {
    const auto r = chat("-n 4", "/exit\nROMEO:\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("ROMEO:"), std::string::npos);  // nothing after /exit was read as a message
}

}  // namespace
}  // namespace rf::cli
