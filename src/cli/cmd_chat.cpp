// rocmforge chat [-m FILE]: an interactive conversation through the model's chat template. Each turn
// renders the whole conversation, reuses the cached prefix it shares with the previous turn and
// feeds only the rest. Ctrl-C stops a reply; Ctrl-D (end of input) or /exit leaves.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "engine/generate.h"
#include "template/chat.h"

namespace rf::cli {

namespace {

struct ChatCliOptions {
    RuntimeOptions runtime;
    SamplingOptions sampling;
    std::string system;
    int64_t n_predict = 512;
};

std::string piece_or_empty(const tokenizer::Tokenizer& tok, int32_t id) {
    return id == tokenizer::kNoToken ? std::string() : tok.piece(id);
}

int run_chat(const ChatCliOptions& o) {
    auto params = sampling_params(o.sampling);
    if (!params) {
        fmt::print(stderr, "error: {}\n", params.error().message);
        return kExitUsage;
    }
    auto session = load_session(o.runtime);
    if (!session) {
        fmt::print(stderr, "error: {}\n", session.error().message);
        return kExitError;
    }
    engine::LoadedModel& m = (*session)->loaded;
    const tokenizer::Tokenizer& tok = *m.tokenizer;
    auto source = m.file->get_string_or("tokenizer.chat_template", tmpl::kDefaultChatTemplate);
    if (!source) {
        fmt::print(stderr, "error: {}\n", source.error().message);
        return kExitError;
    }

    tmpl::ChatInputs inputs;
    inputs.add_generation_prompt = true;
    inputs.bos_token = piece_or_empty(tok, tok.special().bos);
    inputs.eos_token = piece_or_empty(tok, tok.special().eos);
    if (!o.system.empty()) inputs.messages.push_back({{"role", "system"}, {"content", o.system}});

    engine::GenerateOptions gen;
    gen.max_tokens = o.n_predict;
    gen.sampling = *params;
    gen.stop_strings = o.sampling.stop;
    gen.stop_at_end_of_generation = true;

    std::vector<int32_t> cached;  // tokens whose keys and values are in the cache
    std::string line;
    fmt::print(stderr, "chat with {} (Ctrl-C stops a reply, Ctrl-D or /exit quits)\n", (*session)->model_path);
    for (;;) {
        fmt::print("> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line.empty()) continue;
        inputs.messages.push_back({{"role", "user"}, {"content", line}});
        auto rendered = tmpl::render_chat(*source, inputs);
        if (!rendered) {
            fmt::print(stderr, "error: chat template: {}\n", rendered.error().message);
            return kExitError;
        }
        // The template usually writes the BOS token itself.
        const bool has_bos = !inputs.bos_token.empty() && rendered->starts_with(inputs.bos_token);
        std::vector<int32_t> tokens = tok.encode(*rendered, {.add_special = !has_bos, .parse_special = true});
        size_t common = 0;
        while (common < cached.size() && common < tokens.size() && cached[common] == tokens[common]) ++common;
        common = std::min(common, tokens.size() - 1);  // at least one token must be fed for logits
        m.engine->rewind(0, static_cast<int64_t>(common));
        cached.resize(common);
        const std::span<const int32_t> fresh(tokens.data() + common, tokens.size() - common);

        InterruptGuard interrupt;
        auto result = engine::generate(*m.engine, tok, fresh, gen,
                                       [](std::string_view text) {
                                           std::fwrite(text.data(), 1, text.size(), stdout);
                                           std::fflush(stdout);
                                       },
                                       interrupt.flag());
        fmt::print("\n");
        if (!result) {
            fmt::print(stderr, "error: {}\n", result.error().message);
            return kExitError;
        }
        cached.insert(cached.end(), fresh.begin(), fresh.end());
        if (!result->tokens.empty()) cached.insert(cached.end(), result->tokens.begin(), result->tokens.end() - 1);
        inputs.messages.push_back({{"role", "assistant"}, {"content", result->text}});
    }
    return kExitOk;
}

}  // namespace

void add_chat_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<ChatCliOptions>();
    CLI::App* cmd = app.add_subcommand("chat", "Chat with a model through its chat template");
    add_runtime_options(*cmd, o->runtime);
    add_sampling_options(*cmd, o->sampling);
    cmd->add_option("--system,--system-prompt", o->system, "System prompt (llama.cpp's -sys)");
    cmd->add_option("-n,--n-predict", o->n_predict, "Most tokens per reply")->check(number_in(1, 1 << 24));
    cmd->callback([o, &ctx] { ctx.exit_code = run_chat(*o); });
}

}  // namespace rf::cli
