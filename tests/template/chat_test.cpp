// render_chat: the variables a chat template sees, and the default ChatML template.
#include <gtest/gtest.h>

#include "template/chat.h"

namespace rf::tmpl {
namespace {

using J = nlohmann::ordered_json;

ChatInputs conversation() {
    ChatInputs in;
    in.messages = J::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi ü"}}});
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    return in;
}

TEST(ChatRender, DefaultTemplateIsChatML) {
    ChatInputs in = conversation();
    auto out = render_chat(kDefaultChatTemplate, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi ü<|im_end|>\n");
    in.add_generation_prompt = true;
    out = render_chat(kDefaultChatTemplate, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi ü<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatRender, VariablesTheTemplateSees) {
    ChatInputs in = conversation();
    in.extra = {{"enable_thinking", false}};
    const std::string tmpl =
        "{{ bos_token }}{{ messages | length }}{{ tools is defined }}{{ add_generation_prompt }}"
        "{{ enable_thinking }}{{ eos_token }}";
    auto out = render_chat(tmpl, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "<s>2FalseFalseFalse</s>");
    in.tools = J::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
    out = render_chat("{{ tools | map(attribute='function') | map(attribute='name') | join }}|{{ tools | tojson }}", in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "f|[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]");
}

TEST(ChatRender, ClockIsInjectable) {
    ChatInputs in = conversation();
    in.clock = [] {
        using namespace std::chrono;
        return system_clock::time_point(sys_days{year{2026} / November / 25} + hours{12});
    };
    auto out = render_chat("Today is {{ strftime_now('%d %b %Y') }}.", in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "Today is 25 Nov 2026.");
}

TEST(ChatRender, TemplateErrorsComeBackAsErrors) {
    ChatInputs in = conversation();
    auto out = render_chat("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}", in);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.error().message.find("System role not supported"), std::string::npos);
    EXPECT_FALSE(render_chat("{% if %}", in).ok());
}


// Functionary v3.1 (meetkai) sets `tools = none` when no tools are given and then filters it with
// selectattr/rejectattr: Jinja2 yields an empty sequence there, and so must we, or every
// conversation without tools fails. Expected texts rendered by jinja2 3.1.6 (sandbox, trim_blocks,
// lstrip_blocks); the tool loop is trimmed of its `|safe` concatenations.
TEST(ChatRender, FunctionaryStyleTemplateWithoutTools) {
    const std::string tmpl = R"JINJA({# version=v3-llama3.1 #}{%- if not tools is defined -%}
    {%- set tools = none -%}
{%- endif -%}

{%- set has_code_interpreter = tools | selectattr("type", "equalto", "code_interpreter") | list | length > 0 -%}
{%- if has_code_interpreter -%}
    {%- set tools = tools | rejectattr("type", "equalto", "code_interpreter") | list -%}
{%- endif -%}

{#- System message + builtin tools #}
{{- bos_token + "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if has_code_interpreter %}
    {{- "Environment: ipython\n\n" }}
{%- else -%}
    {{ "\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n\n" }}
{%- if tools %}
    {{- "\nYou have access to the following functions:\n\n" }}
    {%- for t in tools %}
        {{- "Use the function '" + t["function"]["name"] + "'\n\n" }}
    {%- endfor %}
{%- endif %}
{{- "<|eot_id|>" -}}

{%- for message in messages -%}
    {%- if message['role'] == 'user' or message['role'] == 'system' -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}
    {%- elif message['role'] == 'tool' -%}
        {{ '<|start_header_id|>ipython<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}
    {%- else -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'}}
        {%- if message['content'] -%}
            {{ message['content'] }}
        {%- endif -%}
        {{ '<|eot_id|>' }}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif -%}
)JINJA";
    ChatInputs in = conversation();
    in.add_generation_prompt = true;
    auto out = render_chat(tmpl, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out,
              "<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n<|eot_id|>"
              "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>"
              "\n\nHi ü<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");

    in.add_generation_prompt = false;
    in.extra = {{"tools", nullptr}};  // tools given as none rather than left undefined
    out = render_chat(tmpl, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out,
              "<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n<|eot_id|>"
              "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>"
              "\n\nHi ü<|eot_id|>");

    in.extra = J::object();
    in.tools = J::array({{{"type", "code_interpreter"}}, {{"type", "function"}, {"function", {{"name", "f"}}}}});
    out = render_chat(tmpl, in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out,
              "<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n\nCutting Knowledge Date: "
              "December 2023\n\n\nYou have access to the following functions:\n\nUse the function 'f'\n\n<|eot_id|>"
              "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>"
              "\n\nHi ü<|eot_id|>");
}

}  // namespace
}  // namespace rf::tmpl
