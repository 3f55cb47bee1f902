#include "cli/chat_conversation.h"

#include <fstream>
#include <sstream>

namespace rf::cli {

using nlohmann::ordered_json;

const char* const kChatHelp =
    "  /help          this list\n"
    "  /clear         forget the conversation (the system prompt stays)\n"
    "  /system TEXT   set the system prompt (empty: none)\n"
    "  /save FILE     write the conversation to FILE (JSON)\n"
    "  /load FILE     continue the conversation saved in FILE\n"
    "  /stats         show the speed after each reply (again: stop)\n"
    "  /exit          leave (also Ctrl-D, or Ctrl-C at an empty prompt)\n"
    "  Ctrl-C during a reply stops it.\n";

void Conversation::set_system(const std::string& text) {
    if (!messages.empty() && messages.front()["role"] == "system") messages.erase(messages.begin());
    if (!text.empty()) messages.insert(messages.begin(), ordered_json{{"role", "system"}, {"content", text}});
}

const std::string* Conversation::system() const {
    if (messages.empty() || messages.front()["role"] != "system") return nullptr;
    return messages.front()["content"].get_ptr<const std::string*>();
}

void Conversation::clear() {
    const std::string* s = system();
    const std::string kept = s ? *s : std::string();
    messages = ordered_json::array();
    set_system(kept);
}

size_t Conversation::turn_messages() const { return messages.size() - (system() ? 1 : 0); }

bool Conversation::drop_oldest_turn() {
    const size_t first = system() ? 1 : 0;
    // The turn ends where the next user message starts; the last user message is never dropped.
    size_t next = first + 1;
    while (next < messages.size() && messages[next]["role"] != "user") ++next;
    if (next >= messages.size()) return false;
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first),
                   messages.begin() + static_cast<std::ptrdiff_t>(next));
    return true;
}

Result<Conversation> conversation_from_json(const ordered_json& j) {
    const ordered_json* list = &j;
    if (j.is_object() && j.contains("messages")) list = &j["messages"];
    if (!list->is_array()) return make_error("expected {{\"messages\": [...]}} or an array of messages");
    Conversation c;
    for (size_t i = 0; i < list->size(); ++i) {
        const ordered_json& m = (*list)[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
            !m["content"].is_string())
            return make_error("message {} needs a string \"role\" and a string \"content\"", i);
        const std::string role = m["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant")
            return make_error("message {} has role '{}' (expected system, user or assistant)", i, role);
        if (role == "system" && i != 0) return make_error("message {}: a system message may only come first", i);
        c.messages.push_back({{"role", role}, {"content", m["content"]}});
    }
    return c;
}

Status save_conversation(const Conversation& c, const std::string& path) {
    std::ofstream out(path);
    if (!out) return make_error("cannot write {}", path);
    out << ordered_json{{"messages", c.messages}}.dump(2) << "\n";
    if (!out.flush()) return make_error("cannot write {}", path);
    return ok_status();
}

Result<Conversation> load_conversation(const std::string& path) {
    std::ifstream in(path);
    if (!in) return make_error("cannot read {}", path);
    std::stringstream text;
    text << in.rdbuf();
    const ordered_json j = ordered_json::parse(text.str(), nullptr, false);
    if (j.is_discarded()) return make_error("{} is not valid JSON", path);
    auto c = conversation_from_json(j);
    if (!c) return make_error("{}: {}", path, c.error().message);
    return c;
}

std::optional<SlashCommand> parse_slash_command(std::string_view line) {
    if (!line.starts_with('/')) return std::nullopt;
    line.remove_prefix(1);
    const size_t space = line.find_first_of(" \t");
    SlashCommand cmd{.name = std::string(line.substr(0, space)), .argument = {}};
    if (space != std::string_view::npos) {
        std::string_view rest = line.substr(space);
        const size_t b = rest.find_first_not_of(" \t");
        const size_t e = rest.find_last_not_of(" \t\r");
        if (b != std::string_view::npos) cmd.argument = std::string(rest.substr(b, e - b + 1));
    }
    return cmd;
}

}  // namespace rf::cli
