// rocmforge generate [-m FILE] -p TEXT|-f FILE [...]: streams a continuation of the prompt, then prints the
// prompt and generation speed. --json prints the token ids, text and (with --top-logits K) the K
// best raw logits of every prompt position and generated step instead. With --host URL it streams
// from a running `rocmforge serve` instead of loading a model.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/generate_remote.h"
#include "engine/generate.h"
#include "engine/loaded_model.h"

namespace rf::cli {

namespace {

struct GenerateCliOptions {
    RuntimeOptions runtime;
    SamplingOptions sampling;
    std::string prompt;
    bool prompt_given = false;
    std::string prompt_file;  // -f: the prompt read from here
    int64_t n_predict = 128;
    bool json = false;
    bool parse_special = false;
    int64_t top_logits = 0;
    ServerAddress remote = {.url = "", .api_key = ""};  // url empty: run locally
};

nlohmann::json tops_json(const std::vector<engine::TopLogits>& tops) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& top : tops) {
        nlohmann::json row = nlohmann::json::array();
        for (const auto& [id, logit] : top) row.push_back({id, logit});
        list.push_back(std::move(row));
    }
    return list;
}

void print_speed(const engine::GenerateResult& r) {
    auto rate = [](size_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
    fmt::print(stderr, "\n\nprompt:     {} tokens in {:.3f} s ({:.2f} tokens/s)\n", r.prompt_tokens.size(),
               r.prompt_seconds, rate(r.prompt_tokens.size(), r.prompt_seconds));
    fmt::print(stderr, "generation: {} tokens in {:.3f} s ({:.2f} tokens/s), stopped by {}\n", r.tokens.size(),
               r.generate_seconds, rate(r.tokens.size(), r.generate_seconds), engine::stop_reason_name(r.reason));
}

// The prompt: -p's text or the contents of -f's file.
Result<std::string> prompt_text(const GenerateCliOptions& o) {
    if (o.prompt_file.empty()) {
        if (!o.prompt_given) return make_error("a prompt is needed: -p TEXT or -f FILE");
        return o.prompt;
    }
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in.is_open()) return make_error("cannot open the prompt file '{}'", o.prompt_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return make_error("cannot read the prompt file '{}'", o.prompt_file);
    return text;
}

int run_generate(const GenerateCliOptions& o) {
    auto text = prompt_text(o);
    if (!text) {
        fmt::print(stderr, "error: {}\n", text.error().message);
        return o.prompt_file.empty() ? kExitUsage : kExitError;
    }
    auto params = sampling_params(o.sampling);
    if (!params) {
        fmt::print(stderr, "error: {}\n", params.error().message);
        return kExitUsage;
    }
    if (!o.remote.url.empty() && (o.json || o.top_logits > 0)) {
        fmt::print(stderr, "error: --json and --top-logits need a local model (-m), not --host\n");
        return kExitUsage;
    }
    if (!o.remote.url.empty()) return generate_remote(o.remote, *text, o.n_predict, o.sampling, *params);
    auto session = load_session(o.runtime);
    if (!session) {
        fmt::print(stderr, "error: {}\n", session.error().message);
        return kExitError;
    }
    engine::LoadedModel& m = (*session)->loaded;
    const std::vector<int32_t> prompt =
        m.tokenizer->encode(*text, {.add_special = true, .parse_special = o.parse_special});

    engine::GenerateOptions gen;
    gen.max_tokens = o.n_predict;
    gen.sampling = *params;
    gen.stop_strings = o.sampling.stop;
    gen.stop_at_end_of_generation = !o.sampling.ignore_eos;
    gen.top_logits = o.top_logits;
    InterruptGuard interrupt;
    engine::TextSink sink;
    if (!o.json) {
        fmt::print("{}", *text);
        std::fflush(stdout);
        sink = [](std::string_view text) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
        };
    }
    auto result = engine::generate(*m.engine, *m.tokenizer, prompt, gen, sink, interrupt.flag());
    if (!result) {
        fmt::print(stderr, "{}error: {}\n", o.json ? "" : "\n", result.error().message);
        return kExitError;
    }
    if (o.json) {
        nlohmann::json j{{"prompt_tokens", result->prompt_tokens},
                         {"generated_tokens", result->tokens},
                         {"text", result->text},
                         {"stop_reason", engine::stop_reason_name(result->reason)},
                         {"seed", params->seed},
                         {"prompt_seconds", result->prompt_seconds},
                         {"generate_seconds", result->generate_seconds},
                         {"backend", m.model->placement().backend_names()},
                         {"device", m.model->placement().device_names()}};
        if (o.top_logits > 0) {
            j["prompt_top_logits"] = tops_json(result->prompt_top);
            j["generated_top_logits"] = tops_json(result->step_top);
        }
        fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
        print_speed(*result);
    }
    return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<GenerateCliOptions>();
    CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt");
    add_runtime_options(*cmd, o->runtime);
    cmd->add_option("--host", o->remote.url, "Stream from a running `rocmforge serve` at this URL instead");
    cmd->add_option("--api-key", o->remote.api_key, "With --host: the server's API key");
    auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "Prompt text (or -f)")->each([o](const std::string&) {
        o->prompt_given = true;
    });
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from this file")->excludes(prompt);
    cmd->add_option("-n,--n-predict", o->n_predict, "Most tokens to generate")->check(number_in(0, 1 << 24));
    add_sampling_options(*cmd, o->sampling);
    cmd->add_flag("--json", o->json, "Print token ids, text and timings as JSON");
    cmd->add_option("--top-logits", o->top_logits, "With --json: the K best raw logits per position and step")
        ->check(number_in(0, 1000));
    cmd->add_flag("--special", o->parse_special, "Parse special tokens written in the prompt");
    cmd->callback([o, &ctx] { ctx.exit_code = run_generate(*o); });
}

}  // namespace rf::cli
