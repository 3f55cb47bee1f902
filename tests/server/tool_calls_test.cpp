// Tool calls read back from outputs recorded in each family's format, the formats told apart by
// chat templates of the reference data, and the grammar of a required call.
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/matcher.h"
#include "server/tool_call_reader.h"
#include "server/tool_calls.h"
#include "support/shared_data.h"

namespace rf::server {
namespace {

using nlohmann::json;

void expect_call(const ToolCall& c, const std::string& name, const json& args) {
    EXPECT_EQ(c.name, name);
    EXPECT_EQ(json::parse(c.arguments), args) << c.arguments;
}

TEST(ToolCalls, HermesAndQwenBlocks) {
    const std::string out =
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n"
        "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
    const ParsedOutput p = parse_tool_calls(out, ToolFormat::Hermes);
    ASSERT_EQ(p.calls.size(), 2u);
    expect_call(p.calls[0], "get_weather", {{"city", "Paris"}, {"days", 2}});
    expect_call(p.calls[1], "get_time", json::object());
    EXPECT_EQ(p.content, "Let me check.");
    // Unclosed at the end of the output, and arguments given as a string.
    const ParsedOutput q = parse_tool_calls("<tool_call>{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}", ToolFormat::Hermes);
    ASSERT_EQ(q.calls.size(), 1u);
    expect_call(q.calls[0], "f", {{"a", 1}});
    // Not JSON inside: it stays text.
    const ParsedOutput r = parse_tool_calls("<tool_call>oops</tool_call>", ToolFormat::Hermes);
    EXPECT_TRUE(r.calls.empty());
    EXPECT_EQ(r.content, "<tool_call>oops</tool_call>");
}

TEST(ToolCalls, Llama3Json) {
    const ParsedOutput p =
        parse_tool_calls("<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"rocm\"}}", ToolFormat::Llama3);
    ASSERT_EQ(p.calls.size(), 1u);
    expect_call(p.calls[0], "search", {{"q", "rocm"}});
    const ParsedOutput two = parse_tool_calls(
        "{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {}}", ToolFormat::Llama3);
    ASSERT_EQ(two.calls.size(), 2u);
    expect_call(two.calls[1], "b", json::object());
    EXPECT_TRUE(parse_tool_calls("The answer is 42.", ToolFormat::Llama3).calls.empty());
}

TEST(ToolCalls, MistralList) {
    const ParsedOutput p = parse_tool_calls(
        "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}, {\"name\": \"neg\", \"arguments\": {\"a\": 3}}]",
        ToolFormat::Mistral);
    ASSERT_EQ(p.calls.size(), 2u);
    expect_call(p.calls[0], "add", {{"a", 1}, {"b", 2}});
    expect_call(p.calls[1], "neg", {{"a", 3}});
    EXPECT_EQ(p.content, "");
}

TEST(ToolCalls, GenericJsonAndUnknownNames) {
    const ParsedOutput p = parse_tool_calls("{\"tool_calls\": [{\"name\": \"f\", \"arguments\": {\"k\": true}}]}", ToolFormat::Generic);
    ASSERT_EQ(p.calls.size(), 1u);
    expect_call(p.calls[0], "f", {{"k", true}});
    // A family's model answering in plain JSON is still understood.
    EXPECT_EQ(parse_tool_calls("{\"name\": \"f\", \"arguments\": {}}", ToolFormat::Hermes).calls.size(), 1u);
    // A name that is not among the tools is not a call.
    const ParsedOutput unknown = parse_tool_calls("{\"name\": \"rm\", \"arguments\": {}}", ToolFormat::Generic, {"f"});
    EXPECT_TRUE(unknown.calls.empty());
    EXPECT_EQ(unknown.content, "{\"name\": \"rm\", \"arguments\": {}}");
}

// Outputs of each family, as models write them (and as they go wrong).
struct Recorded {
    ToolFormat format;
    std::string text;
    size_t calls;
};
const std::vector<Recorded>& recorded() {
    static const std::vector<Recorded> r = {
        {ToolFormat::Hermes,
         "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris, \\\"FR\\\"\", \"days\": 2}}\n"
         "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
         2},
        {ToolFormat::Hermes, "<tool_call>{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}", 1},
        {ToolFormat::Hermes, "<tool_call>oops</tool_call> and <tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}\n</tool_call> done", 1},
        {ToolFormat::Hermes, "<tool_call>\n{\"arguments\": {\"a\": 1}, \"name\": \"f\"}\n</tool_call>", 1},
        {ToolFormat::Hermes, "  The answer is <b>42</b>.  ", 0},
        {ToolFormat::Hermes, "{\"name\": \"f\", \"arguments\": {\"q\": \"plain json\"}}", 1},
        {ToolFormat::Llama3, "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"rocm\"}}", 1},
        {ToolFormat::Llama3, "{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {}}", 2},
        {ToolFormat::Llama3, "The answer is 42.", 0},
        {ToolFormat::Mistral,
         "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}, {\"name\": \"neg\", \"arguments\": {\"a\": 3}}]", 2},
        {ToolFormat::Mistral, "Sure. [TOOL_CALLS] [{\"name\": \"add\", \"arguments\": {\"a\": 1}}]", 1},
        {ToolFormat::Mistral, "[TOOL_CALLS is how I would write it", 0},
        {ToolFormat::Generic, "{\"tool_calls\": [{\"name\": \"f\", \"arguments\": {\"k\": true}}]}", 1},
        {ToolFormat::Generic, "[{\"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}, {\"name\": \"f\", \"arguments\": {\"k\": null}}]", 2},
        {ToolFormat::Generic, "{\"name\": \"rm\", \"arguments\": {}}", 0},
        {ToolFormat::Generic, "{\"answer\": 42}", 0},
        {ToolFormat::Generic, "{\"name\": \"f\", \"arguments\": {\"cut\": \"in the mid", 1},
        {ToolFormat::Hermes, "<tool_call>{\"name\": \"" + std::string(300, 'f') + "\", \"arguments\": {}}</tool_call>", 0},
    };
    return r;
}

// The deltas of a stream added up, as a client does.
ParsedOutput streamed(const Recorded& r, const std::vector<size_t>& cuts) {
    ToolCallReader reader(r.format, {"f", "get_weather", "get_time", "search", "a", "b", "add", "neg"});
    std::vector<ToolCallEvent> events;
    size_t at = 0;
    for (size_t cut : cuts) {
        std::ranges::move(reader.feed(std::string_view(r.text).substr(at, cut - at)), std::back_inserter(events));
        at = cut;
    }
    std::ranges::move(reader.feed(std::string_view(r.text).substr(at)), std::back_inserter(events));
    std::ranges::move(reader.finish(), std::back_inserter(events));
    ParsedOutput out;
    for (const ToolCallEvent& e : events) {
        if (e.kind == ToolCallEvent::Kind::Content) out.content += e.text;
        if (e.kind == ToolCallEvent::Kind::CallStart) {
            EXPECT_EQ(e.call, out.calls.size()) << "calls open in order";
            out.calls.push_back({e.text, ""});
        }
        if (e.kind == ToolCallEvent::Kind::Arguments) {
            EXPECT_LT(e.call, out.calls.size()) << "arguments after their call's name";
            if (e.call < out.calls.size()) out.calls[e.call].arguments += e.text;
        }
    }
    return out;
}

TEST(ToolCallStream, DeltasAddUpToTheWholeResponseHoweverTheTextIsCut) {
    const std::vector<std::string> known = {"f", "get_weather", "get_time", "search", "a", "b", "add", "neg"};
    std::mt19937 rng(21);
    for (const Recorded& r : recorded()) {
        const ParsedOutput whole = parse_tool_calls(r.text, r.format, known);
        ASSERT_EQ(whole.calls.size(), r.calls) << r.text;
        for (const ToolCall& c : whole.calls) {
            if (r.text.find("in the mid") == std::string::npos) {
                EXPECT_TRUE(json::parse(c.arguments).is_object()) << c.arguments;
            }
        }
        // One character at a time (the finest tokens), then random pieces.
        std::vector<size_t> each(r.text.size());
        for (size_t i = 0; i < each.size(); ++i) each[i] = i;
        for (int trial = 0; trial < 21; ++trial) {
            std::vector<size_t> cuts = each;
            if (trial > 0) {
                cuts.clear();
                for (size_t i = 0; i < r.text.size(); i += 1 + rng() % 7) cuts.push_back(i);
            }
            const ParsedOutput s = streamed(r, cuts);
            EXPECT_EQ(s.content, whole.content) << r.text;
            ASSERT_EQ(s.calls.size(), whole.calls.size()) << r.text;
            for (size_t i = 0; i < s.calls.size(); ++i) {
                EXPECT_EQ(s.calls[i].name, whole.calls[i].name);
                EXPECT_EQ(s.calls[i].arguments, whole.calls[i].arguments) << r.text;
            }
        }
    }
    // What stays text is the text, trimmed.
    EXPECT_EQ(parse_tool_calls(recorded()[4].text, ToolFormat::Hermes).content, "The answer is <b>42</b>.");
    EXPECT_EQ(parse_tool_calls(recorded()[2].text, ToolFormat::Hermes, known).content, "<tool_call>oops</tool_call> and  done");
    EXPECT_EQ(parse_tool_calls(recorded()[11].text, ToolFormat::Mistral, known).content, "[TOOL_CALLS is how I would write it");
    EXPECT_EQ(parse_tool_calls(recorded()[10].text, ToolFormat::Mistral, known).content, "Sure.");
}

TEST(ToolCallStream, NamesAndArgumentsGoOutAsTheyArrive) {
    ToolCallReader reader(ToolFormat::Hermes, {"get_weather"});
    const std::vector<std::string> tokens = {"Checking", ".", "\n<", "tool", "_call", ">\n{\"", "name", "\": \"", "get", "_weather",
                                             "\", \"", "arguments", "\": {\"", "city", "\": \"", "Par", "is", "\"}}", "\n</",
                                             "tool_call", ">"};
    std::vector<std::vector<ToolCallEvent>> per_token;
    for (const std::string& t : tokens) per_token.push_back(reader.feed(t));
    // Text goes out at once, a '<' that may open a tag waits.
    ASSERT_EQ(per_token[0].size(), 1u);
    EXPECT_EQ(per_token[0][0].text, "Checking");
    EXPECT_EQ(per_token[2].size(), 0u);
    // The call opens once its name and the start of its arguments are read, ...
    for (size_t i = 3; i < 12; ++i) EXPECT_TRUE(per_token[i].empty()) << tokens[i];
    ASSERT_EQ(per_token[12].size(), 2u);
    EXPECT_EQ(per_token[12][0].kind, ToolCallEvent::Kind::CallStart);
    EXPECT_EQ(per_token[12][0].text, "get_weather");
    EXPECT_EQ(per_token[12][1].text, "{\"");
    // ... then every token adds to its arguments.
    for (size_t i = 13; i < 18; ++i) {
        ASSERT_EQ(per_token[i].size(), 1u) << tokens[i];
        EXPECT_EQ(per_token[i][0].kind, ToolCallEvent::Kind::Arguments);
    }
    EXPECT_EQ(per_token[17][0].text, "\"}");
    EXPECT_TRUE(reader.finish().empty());
    EXPECT_EQ(reader.calls(), 1u);
}

std::string read_template(const std::string& name) {
    std::ifstream in(test::shared_path("chat-templates/" + name + ".jinja"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(ToolCalls, FormatsFromRealTemplates) {
    RF_REQUIRE_SHARED();
    EXPECT_EQ(tool_format_of(read_template("NousResearch-Hermes-3-Llama-3.1-8B-tool_use")), ToolFormat::Hermes);
    EXPECT_EQ(tool_format_of(read_template("Qwen-Qwen2.5-7B-Instruct")), ToolFormat::Hermes);
    EXPECT_EQ(tool_format_of(read_template("Mistral-Small-3.2-24B-Instruct-2506")), ToolFormat::Mistral);
    EXPECT_EQ(tool_format_of("{% for m in messages %}{{ m.content }}{% endfor %}"), ToolFormat::Generic);
}

TEST(ToolCalls, RequiredCallGrammarFollowsTheParameterSchema) {
    const auto tools = nlohmann::ordered_json::parse(R"([
        {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
          "properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}}},
        {"type":"function","function":{"name":"get_time"}}])");
    for (ToolFormat f : {ToolFormat::Hermes, ToolFormat::Llama3, ToolFormat::Mistral, ToolFormat::Generic}) {
        const ToolGrammar g = tool_call_grammar(tools, f);
        ASSERT_TRUE(g.error.empty()) << g.error;
        auto parsed = grammar::parse_gbnf(g.gbnf);
        ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << g.gbnf;
        auto compiled = std::make_shared<const grammar::Grammar>(std::move(*parsed));
        const std::string key = f == ToolFormat::Llama3 ? "parameters" : "arguments";
        std::string call = "{\"name\": \"get_weather\", \"" + key + "\": {\"city\":\"Oslo\",\"unit\":\"c\"}}";
        if (f == ToolFormat::Hermes) call = "<tool_call>\n" + call + "\n</tool_call>";
        if (f == ToolFormat::Mistral) call = "[TOOL_CALLS][" + call + "]";
        grammar::Matcher m(compiled);
        EXPECT_TRUE(m.accept(call) && m.complete()) << tool_format_name(f) << ": " << call;
        const ParsedOutput back = parse_tool_calls(call, f, {"get_weather", "get_time"});
        ASSERT_EQ(back.calls.size(), 1u) << call;
        expect_call(back.calls[0], "get_weather", {{"city", "Oslo"}, {"unit", "c"}});
        grammar::Matcher bad(compiled);
        EXPECT_FALSE(bad.accept(call.substr(0, call.find("Oslo")) + "Oslo\",\"unit\":\"k\"}}"));
    }
    EXPECT_FALSE(tool_call_grammar(nlohmann::ordered_json::array(), ToolFormat::Hermes).error.empty());
}

}  // namespace
}  // namespace rf::server
