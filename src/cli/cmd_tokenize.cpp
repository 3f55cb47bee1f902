// rocmforge tokenize -m FILE [--no-bos] [--parse-special] [--json] (TEXT | --file F): prints the
// token ids of a text (with --json, also each token's piece and the bytes it stands for).
// rocmforge detokenize -m FILE [--show-special] IDS...: prints the text of token ids.
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/text_file.h"
#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"

namespace rf::cli {
namespace {

struct TokenizeOptions {
    std::string model;
    std::string text;
    std::string file;
    bool no_bos = false;
    bool parse_special = false;
    bool json = false;
};

struct DetokenizeOptions {
    std::string model;
    std::vector<int64_t> ids;
    bool show_special = false;
};

Result<tokenizer::Tokenizer> load(const std::string& model) {
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(model));
    return tokenizer::Tokenizer::from_gguf(file);
}

Status run_tokenize(const TokenizeOptions& opts) {
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(opts.model));
    std::string text = opts.text;
    if (!opts.file.empty()) {
        RF_ASSIGN_OR_RETURN(text, read_text_file(opts.file));
    }
    auto ids = tok.encode(text, {.add_special = !opts.no_bos, .parse_special = opts.parse_special});
    if (!opts.json) {
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
        fmt::print("{}\n", line);
        return ok_status();
    }
    nlohmann::json tokens = nlohmann::json::array();
    for (int32_t id : ids) {
        tokens.push_back({{"id", id}, {"piece", tok.piece(id)}, {"text", tok.token_bytes(id)}});
    }
    nlohmann::json out = {{"n_tokens", ids.size()}, {"tokens", std::move(tokens)}};
    // A token may hold part of a UTF-8 character: such bytes print as U+FFFD.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return ok_status();
}

Status run_detokenize(const DetokenizeOptions& opts) {
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(opts.model));
    std::vector<int32_t> ids;
    for (int64_t id : opts.ids) {
        if (id < 0 || id >= tok.n_vocab()) {
            return make_error("token id {} is outside the vocabulary (0..{})", id, tok.n_vocab() - 1);
        }
        ids.push_back(static_cast<int32_t>(id));
    }
    std::string text = tok.decode(ids, {.show_special = opts.show_special});
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return ok_status();
}

// Reports an Error on stderr and turns the outcome into the command's exit code.
int finish(const Status& status) {
    if (status.ok()) return kExitOk;
    fmt::print(stderr, "error: {}\n", status.error().message);
    return kExitError;
}

}  // namespace

void add_tokenize_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
    cmd->add_option("-m,--model", opts->model, "GGUF file whose vocabulary to use")->required();
    auto* text = cmd->add_option("text", opts->text, "Text to tokenize");
    auto* file = cmd->add_option("--file", opts->file, "Read the text from this file");
    text->excludes(file);
    cmd->add_flag("--no-bos", opts->no_bos, "Add no BOS/EOS (or CLS/SEP) tokens");
    cmd->add_flag("--parse-special", opts->parse_special, "Turn special-token text such as <|im_start|> into tokens");
    cmd->add_flag("--json", opts->json, "Print ids with their pieces as JSON");
    cmd->callback([opts, text, file, &ctx] {
        if (text->count() == 0 && file->count() == 0) {
            fmt::print(stderr, "error: give the TEXT to tokenize or --file F\n");
            ctx.exit_code = kExitUsage;
            return;
        }
        ctx.exit_code = finish(run_tokenize(*opts));
    });

    auto dopts = std::make_shared<DetokenizeOptions>();
    CLI::App* dcmd = app.add_subcommand("detokenize", "Print the text of token ids");
    dcmd->add_option("-m,--model", dopts->model, "GGUF file whose vocabulary to use")->required();
    dcmd->add_option("ids", dopts->ids, "Token ids")->required();
    dcmd->add_flag("--show-special", dopts->show_special, "Show control tokens such as BOS as their text");
    dcmd->callback([dopts, &ctx] { ctx.exit_code = finish(run_detokenize(*dopts)); });
}

}  // namespace rf::cli
