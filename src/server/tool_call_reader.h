// Tool calls read from a model's output piece by piece as it is generated, so that a stream can
// send them as OpenAI does (a call's name first, then its arguments in fragments) and plain text
// as soon as it cannot be part of a call. The whole-output parser (parse_tool_calls) feeds the
// same reader at once, so a stream's deltas add up to exactly the non-streamed message.
//
// What the reader takes for calls (formats in tool_calls.h):
//   - a section after a family's marker (<tool_call> ... </tool_call>, [TOOL_CALLS], <|python_tag|>),
//     or plain JSON where the output starts (any family);
//   - in a section: call objects, one or a list [a, b] or separated by ';';
//   - a call object whose first keys are "name" and then "arguments" or "parameters" holding an
//     object streams from the moment its name is read; any other shape ({"function": ...},
//     {"tool_calls": [...]}, arguments as a string) is read whole and sent when it closes.
// Text that turns out not to be a call (not JSON of that shape, a name not among the tools) is
// content after all. Streamed arguments are the model's text with the whitespace between JSON
// tokens left out; those read whole are re-serialised compactly in their key order. A call cut by
// the end of the output stays a call with the arguments written so far (finish_reason then tells
// why it ended). Content is trimmed at both ends.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_calls.h"

namespace rf::server {

struct ToolCallEvent {
    enum class Kind { Content, CallStart, Arguments };
    Kind kind = Kind::Content;
    size_t call = 0;   // CallStart, Arguments: the call's number in the output (0, 1, ...)
    std::string text;  // Content: text; CallStart: the function's name; Arguments: a fragment
};

class ToolCallReader {
public:
    // Calls naming a function not in `known` (when it is not empty) are content.
    ToolCallReader(ToolFormat format, std::vector<std::string> known);

    // What `piece` settles; text that may still turn out to be (part of) a call is held back.
    std::vector<ToolCallEvent> feed(std::string_view piece);
    // The output ended: what is still held back is settled.
    std::vector<ToolCallEvent> finish();

    size_t calls() const { return calls_; }

private:
    enum class Mode { Text, Section };
    // Inside a section: what the next character may be (Object: inside a call object).
    enum class Expect { Element, Object, AfterElement, Closer };
    // Inside a call object: its shape is not known yet (Header), its arguments stream (Arguments),
    // the rest after them is skipped (Tail), or it is read whole and judged when it closes (Whole).
    enum class Phase { Header, Arguments, Tail, Whole };

    void text_char(char c);
    void section_char(char c);
    void object_char(char c);
    void open_section(std::string_view marker);
    void open_object();
    void element_done();
    void end_section();
    void fail_section();
    void content(std::string_view text);
    void emit(ToolCallEvent::Kind kind, std::string_view text);

    ToolFormat format_;
    std::vector<std::string> known_;
    std::vector<ToolCallEvent> out_;
    size_t calls_ = 0;

    // Content: whitespace waits until text follows it (content is trimmed); nothing but
    // whitespace so far means plain JSON may still open a section.
    std::string pending_space_;
    bool content_started_ = false;
    bool at_start_ = true;

    Mode mode_ = Mode::Text;
    std::string held_;  // Text: a prefix of a marker, or Section: a prefix of the closer
    // Section: its text not yet settled (content again if it turns out not to be calls).
    std::string raw_;
    std::string_view closer_;
    Expect expect_ = Expect::Element;
    bool in_list_ = false;
    bool list_seen_ = false;
    size_t section_calls_ = 0;

    // The call object being read.
    Phase phase_ = Phase::Header;
    std::string object_;
    int depth_ = 0;
    bool in_string_ = false;
    bool escaped_ = false;
};

}  // namespace rf::server
