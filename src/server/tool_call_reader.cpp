#include "server/tool_call_reader.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace rf::server {

namespace {

using Json = nlohmann::ordered_json;

// The longest call header read as it comes; a longer object is read whole.
constexpr size_t kMaxHeader = 256;

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Characters JSON allows outside strings; anything else (a letter of prose, '<' of a tag) shows
// early that a buffered object is no JSON, so that a stray '{' cannot swallow the rest.
bool json_outside_string(char c) {
    return is_space(c) || std::string_view("{}[],:0123456789-+.eEtrufalsn").find(c) != std::string_view::npos;
}

std::string_view marker_of(ToolFormat f) {
    switch (f) {
        case ToolFormat::Hermes: return "<tool_call>";
        case ToolFormat::Mistral: return "[TOOL_CALLS]";
        case ToolFormat::Llama3: return "<|python_tag|>";
        case ToolFormat::Generic: return "";
    }
    return "";
}

// The start of a call object in its streamable shape: {"name": "f", "arguments"|"parameters": {
struct Header {
    enum class State { Partial, Mismatch, Match } state;
    std::string name = {};
};

Header match_header(std::string_view s) {
    using S = Header::State;
    size_t i = 1;  // s[0] is '{'
    auto space = [&] {
        while (i < s.size() && is_space(s[i])) ++i;
    };
    // 1: matched, 0: the text ends first, -1: something else.
    auto literal = [&](std::string_view l) {
        for (char ch : l) {
            if (i == s.size()) return 0;
            if (s[i] != ch) return -1;
            ++i;
        }
        return 1;
    };
    // A string without escapes (names and keys need none; others are read whole).
    auto string_body = [&](std::string& out) {
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') return -1;
            out += s[i++];
        }
        if (i == s.size()) return 0;
        ++i;
        return 1;
    };
    Header h{S::Partial};
    for (std::string_view l : {"\"name\"", ":", "\""}) {
        space();
        if (int r = literal(l); r != 1) return {r == 0 ? S::Partial : S::Mismatch};
    }
    if (int r = string_body(h.name); r != 1) return {r == 0 ? S::Partial : S::Mismatch};
    for (std::string_view l : {",", "\""}) {
        space();
        if (int r = literal(l); r != 1) return {r == 0 ? S::Partial : S::Mismatch};
    }
    std::string key;
    const int r = string_body(key);
    if (r == -1) return {S::Mismatch};
    const bool may_be = std::string_view("arguments").starts_with(key) || std::string_view("parameters").starts_with(key);
    if (r == 0) return {may_be ? S::Partial : S::Mismatch};
    if (key != "arguments" && key != "parameters") return {S::Mismatch};
    for (std::string_view l : {":", "{"}) {
        space();
        if (int q = literal(l); q != 1) return {q == 0 ? S::Partial : S::Mismatch};
    }
    h.state = S::Match;
    return h;
}

bool is_known(const std::vector<std::string>& known, const std::string& name) {
    return known.empty() || std::find(known.begin(), known.end(), name) != known.end();
}

// One call from a JSON value: {"name", "arguments" | "parameters"} (arguments an object or a
// string holding one), or OpenAI's own {"function": {...}}.
std::optional<ToolCall> call_from(const Json& v, const std::vector<std::string>& known) {
    if (!v.is_object()) return std::nullopt;
    if (v.contains("function") && v["function"].is_object()) return call_from(v["function"], known);
    if (!v.contains("name") || !v["name"].is_string()) return std::nullopt;
    const std::string name = v["name"].get<std::string>();
    if (!is_known(known, name)) return std::nullopt;
    Json args = Json::object();
    for (const char* key : {"arguments", "parameters"}) {
        if (!v.contains(key)) continue;
        args = v[key];
        if (args.is_string()) args = Json::parse(args.get<std::string>(), nullptr, false);
        break;
    }
    if (!args.is_object()) return std::nullopt;
    return ToolCall{name, args.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

// The calls of a value read whole: a call, a list of them or {"tool_calls": [...]}; nothing
// unless all of it is calls.
std::vector<ToolCall> calls_from(const Json& v, const std::vector<std::string>& known) {
    if (v.is_object() && v.contains("tool_calls") && v["tool_calls"].is_array()) return calls_from(v["tool_calls"], known);
    std::vector<ToolCall> out;
    const Json items = v.is_array() ? v : Json::array({v});
    for (const Json& item : items) {
        auto c = call_from(item, known);
        if (!c) return {};
        out.push_back(std::move(*c));
    }
    return out;
}

}  // namespace

ToolCallReader::ToolCallReader(ToolFormat format, std::vector<std::string> known)
    : format_(format), known_(std::move(known)) {}

std::vector<ToolCallEvent> ToolCallReader::feed(std::string_view piece) {
    for (char c : piece) mode_ == Mode::Text ? text_char(c) : section_char(c);
    return std::exchange(out_, {});
}

std::vector<ToolCallEvent> ToolCallReader::finish() {
    if (mode_ == Mode::Text) {
        content(std::exchange(held_, {}));
    } else {
        // A call whose arguments have begun stays a call; text not yet known to be one is content.
        const bool open_unknown = expect_ == Expect::Object && (phase_ == Phase::Header || phase_ == Phase::Whole);
        if (section_calls_ == 0 || open_unknown) fail_section();
        mode_ = Mode::Text;
    }
    pending_space_.clear();  // content is trimmed
    return std::exchange(out_, {});
}

void ToolCallReader::text_char(char c) {
    const std::string_view marker = marker_of(format_);
    held_ += c;
    if (held_ == marker) return open_section(marker);
    if (marker.starts_with(held_)) return;
    // Plain JSON where the output starts may be calls too (Mistral's marker also opens with '[').
    if (at_start_ && (held_[0] == '{' || held_[0] == '[')) {
        const std::string back = std::exchange(held_, {});
        open_section("");
        for (char b : back) mode_ == Mode::Text ? text_char(b) : section_char(b);
        return;
    }
    while (!held_.empty() && !marker.starts_with(held_)) {
        content(std::string_view(held_).substr(0, 1));
        held_.erase(0, 1);
    }
}

void ToolCallReader::open_section(std::string_view marker) {
    mode_ = Mode::Section;
    held_.clear();
    raw_ = std::string(marker);
    closer_ = marker == "<tool_call>" ? "</tool_call>" : "";
    expect_ = Expect::Element;
    in_list_ = list_seen_ = false;
    section_calls_ = 0;
}

void ToolCallReader::section_char(char c) {
    raw_ += c;
    switch (expect_) {
        case Expect::Object: object_char(c); return;
        case Expect::Element:
            if (is_space(c)) return;
            if (c == '{') return open_object();
            if (c == '[' && !list_seen_ && section_calls_ == 0) {
                in_list_ = list_seen_ = true;
                return;
            }
            return fail_section();
        case Expect::AfterElement:
            if (is_space(c)) return;
            if (in_list_) {
                if (c == ',') expect_ = Expect::Element;
                if (c == ']') {
                    in_list_ = false;
                    expect_ = Expect::Closer;
                }
                if (c != ',' && c != ']') fail_section();
                return;
            }
            if (c == ';') {
                expect_ = Expect::Element;
                return;
            }
            expect_ = Expect::Closer;
            [[fallthrough]];
        case Expect::Closer: {
            if (closer_.empty()) {  // the section has ended; the character is text again
                end_section();
                return text_char(c);
            }
            if (held_.empty() && is_space(c)) return;
            held_ += c;
            if (held_ == closer_) return end_section();
            if (closer_.starts_with(held_)) return;
            const std::string back = std::exchange(held_, {});
            end_section();
            for (char b : back) text_char(b);
            return;
        }
    }
}

void ToolCallReader::open_object() {
    expect_ = Expect::Object;
    phase_ = Phase::Header;
    object_.assign(1, '{');
    depth_ = 1;
    in_string_ = escaped_ = false;
}

void ToolCallReader::object_char(char c) {
    if (phase_ == Phase::Header || phase_ == Phase::Whole) object_ += c;
    const bool was_in_string = in_string_;
    if (in_string_) {
        if (escaped_)
            escaped_ = false;
        else if (c == '\\')
            escaped_ = true;
        else if (c == '"')
            in_string_ = false;
    } else if (c == '"') {
        in_string_ = true;
    } else if (c == '{' || c == '[') {
        ++depth_;
    } else if (c == '}' || c == ']') {
        --depth_;
    } else if ((phase_ == Phase::Header || phase_ == Phase::Whole) && !json_outside_string(c)) {
        return fail_section();
    }
    switch (phase_) {
        case Phase::Header: {
            // A header is short (OpenAI's names have at most 64 characters); re-reading a longer
            // one at every character would cost the square of its length.
            Header h = object_.size() > kMaxHeader ? Header{Header::State::Mismatch} : match_header(object_);
            if (h.state == Header::State::Partial) return;
            if (h.state == Header::State::Mismatch) {
                phase_ = Phase::Whole;
                break;  // judged below once it closes
            }
            if (!is_known(known_, h.name)) return fail_section();
            ++calls_;
            ++section_calls_;
            emit(ToolCallEvent::Kind::CallStart, h.name);
            emit(ToolCallEvent::Kind::Arguments, "{");
            phase_ = Phase::Arguments;
            return;
        }
        case Phase::Arguments:
            // The model's text less the whitespace between tokens.
            if (was_in_string || !is_space(c)) emit(ToolCallEvent::Kind::Arguments, std::string_view(&c, 1));
            if (depth_ == 1) phase_ = Phase::Tail;  // the arguments' closing brace
            return;
        case Phase::Tail:
            if (depth_ <= 0) element_done();
            return;
        case Phase::Whole: break;
    }
    if (depth_ > 0) return;
    const std::vector<ToolCall> calls = calls_from(Json::parse(object_, nullptr, false), known_);
    if (calls.empty()) return fail_section();
    for (const ToolCall& call : calls) {
        ++calls_;
        ++section_calls_;
        emit(ToolCallEvent::Kind::CallStart, call.name);
        emit(ToolCallEvent::Kind::Arguments, call.arguments);
    }
    element_done();
}

void ToolCallReader::element_done() {
    raw_.clear();
    object_.clear();
    expect_ = Expect::AfterElement;
}

void ToolCallReader::end_section() {
    mode_ = Mode::Text;
    raw_.clear();
    held_.clear();
    at_start_ = false;
}

void ToolCallReader::fail_section() {
    const std::string back = std::exchange(raw_, {});
    object_.clear();
    end_section();
    content(back);
}

void ToolCallReader::content(std::string_view text) {
    for (char c : text) {
        if (is_space(c)) {
            pending_space_ += c;
            continue;
        }
        if (content_started_) emit(ToolCallEvent::Kind::Content, pending_space_);
        pending_space_.clear();
        emit(ToolCallEvent::Kind::Content, std::string_view(&c, 1));
        content_started_ = true;
        at_start_ = false;
    }
}

void ToolCallReader::emit(ToolCallEvent::Kind kind, std::string_view text) {
    if (text.empty() && kind != ToolCallEvent::Kind::CallStart) return;
    const size_t call = kind == ToolCallEvent::Kind::Content ? 0 : calls_ - 1;
    if (kind != ToolCallEvent::Kind::CallStart && !out_.empty() && out_.back().kind == kind && out_.back().call == call) {
        out_.back().text += text;
        return;
    }
    out_.push_back({kind, call, std::string(text)});
}

}  // namespace rf::server
