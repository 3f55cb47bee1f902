// Tool calls read back from outputs recorded in each family's format, the formats told apart by
// chat templates of the reference data, and the grammar of a required call.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/matcher.h"
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
