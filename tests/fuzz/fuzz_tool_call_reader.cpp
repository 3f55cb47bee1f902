// libFuzzer target: tool calls read from any model output, whole or piece by piece, never crash
// and agree: the pieces' events add up to exactly what the whole text gives (what a stream's
// deltas promise, docs/server.md). Input: a byte choosing the format, the known names and the
// piece lengths, then the output's text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "server/tool_call_reader.h"
#include "server/tool_calls.h"

using namespace rf::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t control = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const ToolFormat format = static_cast<ToolFormat>(control % 4);
    std::vector<std::string> known;
    if (control & 4) known = {"f", "get_weather"};
    const ParsedOutput whole = parse_tool_calls(text, format, known);

    ToolCallReader reader(format, known);
    ParsedOutput pieces;
    auto add = [&](const std::vector<ToolCallEvent>& events) {
        for (const ToolCallEvent& e : events) {
            if (e.kind == ToolCallEvent::Kind::Content) pieces.content += e.text;
            if (e.kind == ToolCallEvent::Kind::CallStart) {
                if (e.call != pieces.calls.size()) std::abort();
                pieces.calls.push_back({e.text, ""});
            }
            if (e.kind == ToolCallEvent::Kind::Arguments) {
                if (e.call >= pieces.calls.size()) std::abort();
                pieces.calls[e.call].arguments += e.text;
            }
        }
    };
    uint32_t rng = control * 2654435761u + 1;
    for (size_t at = 0; at < text.size();) {
        rng = rng * 1664525u + 1013904223u;
        const size_t n = 1 + (rng >> 24) % 9;
        add(reader.feed(text.substr(at, n)));
        at += n;
    }
    add(reader.finish());
    bool same = pieces.content == whole.content && pieces.calls.size() == whole.calls.size();
    for (size_t i = 0; same && i < whole.calls.size(); ++i)
        same = pieces.calls[i].name == whole.calls[i].name && pieces.calls[i].arguments == whole.calls[i].arguments;
    if (!same) {
        std::fprintf(stderr, "pieces and whole differ: content '%s' vs '%s', %zu vs %zu calls\n", pieces.content.c_str(),
                     whole.content.c_str(), pieces.calls.size(), whole.calls.size());
        std::abort();
    }
    return 0;
}
