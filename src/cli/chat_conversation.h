// The state of `rocmforge chat` that outlives one reply: the messages so far, their file form for
// /save and /load, and the slash commands typed at its prompt. No model here, so all of it is
// testable without one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace rf::cli {

// [{"role": "system"|"user"|"assistant", "content": "..."}, ...]; a system message, if any, first.
struct Conversation {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();

    // Replaces the system message (an empty text removes it).
    void set_system(const std::string& text);
    const std::string* system() const;
    // Every message but the system message goes.
    void clear();
    // Drops the oldest turn (the first user message and the replies up to the next one), keeping
    // the system message. False when there is no turn before the last user message to drop.
    bool drop_oldest_turn();
    // User and assistant messages (what /clear forgets).
    size_t turn_messages() const;
};

// The file form: {"messages": [...]}. Reading also takes a bare array of messages; every message
// needs a known role and a string content.
Status save_conversation(const Conversation& c, const std::string& path);
Result<Conversation> load_conversation(const std::string& path);
Result<Conversation> conversation_from_json(const nlohmann::ordered_json& j);

// A line typed at the prompt that starts with '/': the command ("save") and the rest, trimmed.
struct SlashCommand {
    std::string name;
    std::string argument;
};
std::optional<SlashCommand> parse_slash_command(std::string_view line);

// What /help prints.
extern const char* const kChatHelp;

}  // namespace rf::cli
