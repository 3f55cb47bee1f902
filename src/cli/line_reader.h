// Reads the lines typed at `chat`'s prompt: with line editing and a history kept across sessions
// (libedit) when stdin is a terminal, and as plain lines otherwise, so that scripts can pipe a
// conversation in.
#pragma once

#include <memory>
#include <string>

namespace rf::cli {

// Where the prompt history lives: $XDG_STATE_HOME/rocmforge/chat_history, else
// ~/.local/state/rocmforge/chat_history; empty when neither is known.
std::string chat_history_path();

class LineReader {
public:
    // Interrupted: Ctrl-C at an empty prompt; Discarded: Ctrl-C with text typed (which is dropped).
    enum class Outcome { Line, EndOfInput, Interrupted, Discarded };

    // `history_file` empty: no history kept.
    explicit LineReader(std::string history_file);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    Outcome read(const char* prompt, std::string& line);
    bool interactive() const { return editor_ != nullptr; }

private:
    struct Editor;
    std::unique_ptr<Editor> editor_;  // null when stdin is not a terminal
};

}  // namespace rf::cli
