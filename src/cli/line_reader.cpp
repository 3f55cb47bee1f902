#include "cli/line_reader.h"

#include <histedit.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <filesystem>
#include <iostream>

namespace rf::cli {

namespace {

std::atomic<bool> g_prompt_interrupted{false};
extern "C" void on_prompt_interrupt(int) { g_prompt_interrupted = true; }

// libedit's character source: read() of stdin, decoded by the locale, that gives up when Ctrl-C
// arrives (the handler is installed without SA_RESTART, so read() returns EINTR) instead of
// retrying as libedit's own does.
int read_char(EditLine*, wchar_t* out) {
    std::mbstate_t state{};
    for (;;) {
        char byte;
        const ssize_t n = ::read(STDIN_FILENO, &byte, 1);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR && !g_prompt_interrupted) continue;
            return -1;
        }
        const size_t used = std::mbrtowc(out, &byte, 1, &state);
        if (used == static_cast<size_t>(-2)) continue;  // more bytes of this character to come
        if (used == static_cast<size_t>(-1)) {           // not valid in the locale's encoding: skip it
            state = {};
            continue;
        }
        return 1;
    }
}

const char* g_prompt = "> ";
char* prompt_text(EditLine*) { return const_cast<char*>(g_prompt); }

}  // namespace

std::string chat_history_path() {
    std::filesystem::path dir;
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
        dir = state;
    else if (const char* home = std::getenv("HOME"); home && *home)
        dir = std::filesystem::path(home) / ".local" / "state";
    else
        return {};
    return (dir / "rocmforge" / "chat_history").string();
}

struct LineReader::Editor {
    EditLine* el = nullptr;
    History* history = nullptr;
    HistEvent event{};
    std::string history_file;

    ~Editor() {
        if (history && !history_file.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(std::filesystem::path(history_file).parent_path(), ec);
            ::history(history, &event, H_SAVE, history_file.c_str());
        }
        if (el) el_end(el);
        if (history) history_end(history);
    }
};

LineReader::LineReader(std::string history_file) {
    if (!isatty(STDIN_FILENO)) return;
    // libedit decodes multibyte input by the locale's character type: UTF-8 where the user's is.
    std::setlocale(LC_CTYPE, "");
    editor_ = std::make_unique<Editor>();
    Editor& e = *editor_;
    e.history_file = std::move(history_file);
    e.history = history_init();
    ::history(e.history, &e.event, H_SETSIZE, 1000);
    ::history(e.history, &e.event, H_SETUNIQUE, 1);
    if (!e.history_file.empty()) ::history(e.history, &e.event, H_LOAD, e.history_file.c_str());
    e.el = el_init("rocmforge", stdin, stdout, stderr);
    el_set(e.el, EL_EDITOR, "emacs");
    el_set(e.el, EL_HIST, ::history, e.history);
    el_set(e.el, EL_PROMPT, prompt_text);
    el_set(e.el, EL_GETCFN, read_char);
    el_source(e.el, nullptr);  // the user's ~/.editrc, as other libedit programs read it
}

LineReader::~LineReader() = default;

LineReader::Outcome LineReader::read(const char* prompt, std::string& line) {
    line.clear();
    if (!editor_) {
        std::fputs(prompt, stdout);
        std::fflush(stdout);
        return std::getline(std::cin, line) ? Outcome::Line : Outcome::EndOfInput;
    }
    // Ctrl-C while editing ends the read instead of the process.
    struct sigaction action {}, previous{};
    action.sa_handler = on_prompt_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
    g_prompt_interrupted = false;
    g_prompt = prompt;
    int count = 0;
    const char* text = el_gets(editor_->el, &count);
    sigaction(SIGINT, &previous, nullptr);
    if (g_prompt_interrupted) {
        const LineInfo* typed = el_line(editor_->el);
        const bool empty = typed->buffer == typed->lastchar;
        el_reset(editor_->el);
        std::fputc('\n', stdout);
        return empty ? Outcome::Interrupted : Outcome::Discarded;
    }
    if (!text || count <= 0) return Outcome::EndOfInput;
    line = text;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (!line.empty()) ::history(editor_->history, &editor_->event, H_ENTER, line.c_str());
    return Outcome::Line;
}

}  // namespace rf::cli
