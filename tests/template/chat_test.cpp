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

}  // namespace
}  // namespace rf::tmpl
