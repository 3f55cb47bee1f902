// rocmforge chat [-m FILE]: an interactive conversation through the model's chat template. Each turn
// renders the whole conversation, reuses the cached prefix it shares with the previous turn and
// feeds only the rest. When the conversation outgrows the context, its oldest turns are dropped
// (the system message stays). Slash commands (/help) manage the conversation; Ctrl-C stops a
// reply, and Ctrl-C at an empty prompt, Ctrl-D or /exit leave.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/chat_conversation.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/line_reader.h"
#include "engine/generate.h"
#include "template/chat.h"

namespace rf::cli {

namespace {

struct ChatCliOptions {
    RuntimeOptions runtime;
    SamplingOptions sampling;
    std::string system;
    int64_t n_predict = 512;
    bool stats = false;
    bool no_history = false;
};

std::string piece_or_empty(const tokenizer::Tokenizer& tok, int32_t id) {
    return id == tokenizer::kNoToken ? std::string() : tok.piece(id);
}

struct ChatSession {
    ChatSession(engine::LoadedModel& m, const tokenizer::Tokenizer& t, std::string source)
        : model(m), tok(t), template_source(std::move(source)) {}

    engine::LoadedModel& model;
    const tokenizer::Tokenizer& tok;
    std::string template_source;
    tmpl::ChatInputs inputs;  // messages are taken from `conversation` at each turn
    engine::GenerateOptions gen;
    Conversation conversation;
    std::vector<int32_t> cached;  // tokens whose keys and values are in the cache
    bool stats = false;

    // `c` rendered with a generation prompt, as tokens.
    Result<std::vector<int32_t>> prompt_tokens(const Conversation& c) {
        inputs.messages = c.messages;
        RF_ASSIGN_OR_RETURN(std::string rendered, tmpl::render_chat(template_source, inputs));
        // The template usually writes the BOS token itself.
        const bool has_bos = !inputs.bos_token.empty() && rendered.starts_with(inputs.bos_token);
        return tok.encode(rendered, {.add_special = !has_bos, .parse_special = true});
    }

    // The prompt for the last user message, with the oldest turns dropped until it leaves room for
    // a reply: a quarter of the context, or -n when that is less. When even the last message alone
    // does not fit, an error, and the conversation is left as it was.
    Result<std::vector<int32_t>> prompt_that_fits() {
        const int64_t n_ctx = model.engine->n_ctx();
        const int64_t room = std::max<int64_t>(1, std::min(gen.max_tokens, n_ctx / 4));
        Conversation trimmed = conversation;
        int dropped = 0;
        for (;;) {
            RF_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, prompt_tokens(trimmed));
            if (static_cast<int64_t>(tokens.size()) + room <= n_ctx) {
                if (dropped > 0) {
                    conversation = std::move(trimmed);
                    fmt::print(stderr, "[context full: dropped {} old turn{}; {} messages remain]\n", dropped,
                               dropped == 1 ? "" : "s", conversation.messages.size());
                }
                return tokens;
            }
            if (!trimmed.drop_oldest_turn())
                return make_error("this message and the system prompt take {} tokens; with room for a reply they do "
                                  "not fit the context of {} tokens (-c)",
                                  tokens.size(), n_ctx);
            ++dropped;
        }
    }

    // Answers the last user message, streaming the reply to stdout.
    Status reply() {
        RF_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, prompt_that_fits());
        size_t common = 0;
        while (common < cached.size() && common < tokens.size() && cached[common] == tokens[common]) ++common;
        common = std::min(common, tokens.size() - 1);  // at least one token must be fed for logits
        model.engine->rewind(0, static_cast<int64_t>(common));
        cached.resize(common);
        const std::span<const int32_t> fresh(tokens.data() + common, tokens.size() - common);

        InterruptGuard interrupt;
        auto result = engine::generate(*model.engine, tok, fresh, gen,
                                       [](std::string_view text) {
                                           std::fwrite(text.data(), 1, text.size(), stdout);
                                           std::fflush(stdout);
                                       },
                                       interrupt.flag());
        fmt::print("\n");
        std::fflush(stdout);
        if (!result) {
            cached.clear();  // what the cache holds is unknown now: the next turn starts afresh
            return result.error();
        }
        cached.insert(cached.end(), fresh.begin(), fresh.end());
        if (!result->tokens.empty()) cached.insert(cached.end(), result->tokens.begin(), result->tokens.end() - 1);
        conversation.messages.push_back({{"role", "assistant"}, {"content", result->text}});
        if (result->reason == engine::StopReason::Cancelled) fmt::print(stderr, "[stopped]\n");
        if (result->reason == engine::StopReason::ContextFull)
            fmt::print(stderr, "[the reply filled the context; the oldest turns go before the next one]\n");
        if (stats) print_stats(*result, fresh.size());
        return ok_status();
    }

    static void print_stats(const engine::GenerateResult& r, size_t prompt_tokens) {
        const auto rate = [](double n, double s) { return s > 0 ? n / s : 0.0; };
        fmt::print(stderr, "[reply: {} tokens, {:.1f} tokens/s; prompt: {} new tokens, {:.1f} tokens/s]\n",
                   r.tokens.size(), rate(static_cast<double>(r.tokens.size()), r.generate_seconds), prompt_tokens,
                   rate(static_cast<double>(prompt_tokens), r.prompt_seconds));
    }

    // A line starting with '/'. False when the chat should end.
    bool command(const SlashCommand& c) {
        if (c.name == "exit" || c.name == "quit") return false;
        if (c.name == "help" || c.name == "?") {
            fmt::print(stderr, "{}", kChatHelp);
        } else if (c.name == "clear") {
            conversation.clear();
            fmt::print(stderr, "[conversation cleared]\n");
        } else if (c.name == "system") {
            conversation.set_system(c.argument);
            fmt::print(stderr, "{}\n", c.argument.empty() ? "[system prompt removed]" : "[system prompt set]");
        } else if (c.name == "save" || c.name == "load") {
            if (c.argument.empty()) {
                fmt::print(stderr, "error: /{} needs a file name\n", c.name);
            } else if (c.name == "save") {
                if (auto saved = save_conversation(conversation, c.argument); !saved)
                    fmt::print(stderr, "error: {}\n", saved.error().message);
                else
                    fmt::print(stderr, "[saved {} messages to {}]\n", conversation.messages.size(), c.argument);
            } else if (auto loaded = load_conversation(c.argument); !loaded) {
                fmt::print(stderr, "error: {}\n", loaded.error().message);
            } else {
                conversation = std::move(*loaded);
                fmt::print(stderr, "[loaded {} messages from {}]\n", conversation.messages.size(), c.argument);
            }
        } else if (c.name == "stats") {
            stats = !stats;
            fmt::print(stderr, "{}\n", stats ? "[speed shown after each reply]" : "[speed no longer shown]");
        } else {
            fmt::print(stderr, "unknown command /{} (/help lists them)\n", c.name);
        }
        return true;
    }
};

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

    ChatSession chat(m, tok, *source);
    chat.stats = o.stats;
    chat.inputs.add_generation_prompt = true;
    chat.inputs.bos_token = piece_or_empty(tok, tok.special().bos);
    chat.inputs.eos_token = piece_or_empty(tok, tok.special().eos);
    chat.conversation.set_system(o.system);
    chat.gen.max_tokens = o.n_predict;
    chat.gen.sampling = *params;
    chat.gen.stop_strings = o.sampling.stop;
    chat.gen.stop_at_end_of_generation = true;

    LineReader reader(o.no_history ? std::string() : chat_history_path());
    fmt::print(stderr, "chat with {} (/help lists commands; Ctrl-C stops a reply; Ctrl-D or /exit quits)\n",
               (*session)->model_path);
    std::string line;
    for (;;) {
        const LineReader::Outcome got = reader.read("> ", line);
        if (got == LineReader::Outcome::EndOfInput || got == LineReader::Outcome::Interrupted) break;
        if (got == LineReader::Outcome::Discarded || line.empty()) continue;
        if (auto cmd = parse_slash_command(line)) {
            if (!chat.command(*cmd)) break;
            continue;
        }
        chat.conversation.messages.push_back({{"role", "user"}, {"content", line}});
        if (auto replied = chat.reply(); !replied) {
            // The conversation survives: only this message is taken back.
            chat.conversation.messages.erase(chat.conversation.messages.end() - 1);
            fmt::print(stderr, "error: {}\n", replied.error().message);
        }
    }
    if (reader.interactive()) fmt::print("\n");
    return kExitOk;
}

}  // namespace

void add_chat_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<ChatCliOptions>();
    CLI::App* cmd = app.add_subcommand("chat", "Chat with a model through its chat template (/help inside lists commands)");
    add_runtime_options(*cmd, o->runtime);
    add_sampling_options(*cmd, o->sampling);
    cmd->add_option("--system,--system-prompt", o->system, "System prompt (llama.cpp's -sys)");
    cmd->add_option("-n,--n-predict", o->n_predict, "Most tokens per reply")->check(number_in(1, 1 << 24));
    cmd->add_flag("--stats", o->stats, "Show each reply's speed (tokens/s); /stats toggles it");
    cmd->add_flag("--no-history", o->no_history, "Keep no prompt history file (default: $XDG_STATE_HOME/rocmforge/chat_history)");
    cmd->callback([o, &ctx] { ctx.exit_code = run_chat(*o); });
}

}  // namespace rf::cli
