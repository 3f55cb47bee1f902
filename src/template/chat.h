// Rendering a conversation into a prompt with a model's chat template, the way the Hugging Face
// transformers library does: variables messages, tools (when given), add_generation_prompt,
// bos_token, eos_token, plus raise_exception() and strftime_now().
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "template/evaluator.h"

namespace rf::tmpl {

struct ChatInputs {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role":..., "content":...}, ...]
    nlohmann::ordered_json tools;        // null: `tools` is left undefined
    bool add_generation_prompt = false;
    std::string bos_token;
    std::string eos_token;
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // more variables (e.g. enable_thinking)
    std::function<std::chrono::system_clock::time_point()> clock;      // for strftime_now; system clock if empty
    RenderLimits limits;
};

// The template used when a model ships none: ChatML, i.e. every message as
//   <|im_start|>{role}\n{content}<|im_end|>\n
// followed by "<|im_start|>assistant\n" when a generation prompt is asked for.
extern const char* const kDefaultChatTemplate;

Result<std::string> render_chat(const std::string& template_source, const ChatInputs& inputs);

}  // namespace rf::tmpl
