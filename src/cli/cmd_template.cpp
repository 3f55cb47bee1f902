// rocmforge template (-m FILE | --template F.jinja) --messages M.json ...: renders a conversation
// with a chat template and prints the prompt exactly as the model would receive it.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/text_file.h"
#include "gguf/reader.h"
#include "template/chat.h"

namespace rf::cli {
namespace {

struct TemplateOptions {
    std::string model;
    std::string template_file;
    std::string messages_file;
    std::string tools_file;
    std::optional<std::string> bos;
    std::optional<std::string> eos;
    std::string now;
    bool add_generation_prompt = false;
};

Result<nlohmann::ordered_json> read_json(const std::string& path) {
    RF_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
    auto json = nlohmann::ordered_json::parse(text, nullptr, false);
    if (json.is_discarded()) return make_error("{}: not valid JSON", path);
    return json;
}

// "2026-11-25T12:00:00" (or with a space, optional trailing Z), read as UTC.
Result<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
    std::tm tm{};
    int year, month, day, hour = 0, minute = 0, second = 0;
    char sep = 'T';
    int fields = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &year, &month, &day, &sep, &hour, &minute, &second);
    if (fields != 3 && fields != 7) return make_error("--now: expected YYYY-MM-DDTHH:MM:SS, got '{}'", text);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return make_error("--now: '{}' is not a valid time", text);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// The token text for the id stored under `id_key`, or "" when the vocabulary does not say.
std::string special_token(const gguf::File& file, const char* id_key) {
    auto id = file.get_uint(id_key);
    if (!id.ok()) return "";
    auto tokens = file.get_string_array("tokenizer.ggml.tokens");
    if (!tokens.ok() || *id >= tokens->size()) return "";
    return (*tokens)[*id];
}

Status load_template(const TemplateOptions& opts, std::string& source, tmpl::ChatInputs& inputs) {
    if (!opts.template_file.empty()) {
        RF_ASSIGN_OR_RETURN(source, read_text_file(opts.template_file));
        return ok_status();
    }
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(opts.model));
    if (file.has("tokenizer.chat_template")) {
        RF_ASSIGN_OR_RETURN(source, file.get_string("tokenizer.chat_template"));
    } else {
        fmt::print(stderr, "note: {} has no tokenizer.chat_template; using the default ChatML template\n", opts.model);
        source = tmpl::kDefaultChatTemplate;
    }
    inputs.bos_token = special_token(file, "tokenizer.ggml.bos_token_id");
    inputs.eos_token = special_token(file, "tokenizer.ggml.eos_token_id");
    return ok_status();
}

Result<std::string> render(const TemplateOptions& opts) {
    std::string source;
    tmpl::ChatInputs inputs;
    RF_TRY(load_template(opts, source, inputs));
    RF_ASSIGN_OR_RETURN(nlohmann::ordered_json messages, read_json(opts.messages_file));
    if (messages.is_object()) {
        // {"messages": [...], "tools": [...], other variables...}
        for (const auto& [key, value] : messages.items()) {
            if (key == "messages") inputs.messages = value;
            else if (key == "tools") inputs.tools = value;
            else inputs.extra[key] = value;
        }
    } else if (messages.is_array()) {
        inputs.messages = messages;
    } else {
        return make_error("{}: expected a JSON array of messages", opts.messages_file);
    }
    if (!opts.tools_file.empty()) {
        RF_ASSIGN_OR_RETURN(inputs.tools, read_json(opts.tools_file));
    }
    if (opts.bos) inputs.bos_token = *opts.bos;
    if (opts.eos) inputs.eos_token = *opts.eos;
    inputs.add_generation_prompt = opts.add_generation_prompt;
    if (!opts.now.empty()) {
        RF_ASSIGN_OR_RETURN(auto now, parse_time(opts.now));
        inputs.clock = [now] { return now; };
    }
    return tmpl::render_chat(source, inputs);
}

}  // namespace

void add_template_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<TemplateOptions>();
    CLI::App* cmd = app.add_subcommand("template", "Render a conversation with a chat template and print the prompt");
    auto* model = cmd->add_option("-m,--model", opts->model, "GGUF file whose tokenizer.chat_template to use");
    auto* file = cmd->add_option("--template", opts->template_file, "Jinja template file to use");
    model->excludes(file);
    cmd->add_option("--messages", opts->messages_file, "JSON file: an array of messages, or an object with messages/tools")
        ->required();
    cmd->add_flag("--add-generation-prompt", opts->add_generation_prompt, "End with the assistant turn's opening");
    cmd->add_option("--tools", opts->tools_file, "JSON file with the tool definitions");
    cmd->add_option("--bos", opts->bos, "BOS token text (default: from the model's vocabulary)");
    cmd->add_option("--eos", opts->eos, "EOS token text (default: from the model's vocabulary)");
    cmd->add_option("--now", opts->now, "Time strftime_now() reports, YYYY-MM-DDTHH:MM:SS (UTC)");
    cmd->callback([opts, &ctx] {
        if (opts->model.empty() && opts->template_file.empty()) {
            fmt::print(stderr, "error: give -m MODEL.gguf or --template FILE.jinja\n");
            ctx.exit_code = kExitUsage;
            return;
        }
        auto prompt = render(*opts);
        if (!prompt.ok()) {
            fmt::print(stderr, "error: {}\n", prompt.error().message);
            ctx.exit_code = kExitError;
            return;
        }
        std::fwrite(prompt->data(), 1, prompt->size(), stdout);
        ctx.exit_code = kExitOk;
    });
}

}  // namespace rf::cli
