#include "template/chat.h"

#include "template/json.h"
#include "template/template.h"

namespace rf::tmpl {

const char* const kDefaultChatTemplate =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' ~ message['role'] ~ '\\n' ~ message['content'] ~ '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|im_start|>assistant\\n' -}}\n"
    "{%- endif -%}\n";

Result<std::string> render_chat(const std::string& template_source, const ChatInputs& inputs) {
    RF_ASSIGN_OR_RETURN(Template tmpl, Template::parse(template_source));
    Object variables;
    variables.set("messages", value_from_json(inputs.messages));
    // Without tools the variable stays undefined, as in the reference renderings (templates test
    // `tools is defined`, and iterating an undefined value visits nothing).
    if (!inputs.tools.is_null()) variables.set("tools", value_from_json(inputs.tools));
    variables.set("add_generation_prompt", Value(inputs.add_generation_prompt));
    variables.set("bos_token", Value(inputs.bos_token));
    variables.set("eos_token", Value(inputs.eos_token));
    if (inputs.extra.is_object())
        for (const auto& [key, value] : inputs.extra.items()) variables.set(key, value_from_json(value));
    RenderOptions options;
    options.limits = inputs.limits;
    options.clock = inputs.clock;
    return tmpl.render(variables, options);
}

}  // namespace rf::tmpl
