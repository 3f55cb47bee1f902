// rocmforge pull REPO[:QUANT|:FILE]: downloads a GGUF file from a Hugging Face-style hub into the
// models cache (hub/model_cache.h) and prints its path; `-m REPO:QUANT` finds it there afterwards.
#include <memory>

#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "hub/model_cache.h"

namespace rf::cli {
namespace {

struct PullCommandOptions {
    std::string model;
    hub::PullOptions pull;
    bool endpoint_given = false, token_given = false;
};

int run_pull(PullCommandOptions o) {
    auto ref = hub::parse_model_ref(o.model);
    if (!ref) {
        fmt::print(stderr, "error: {}\n", ref.error().message);
        return kExitUsage;
    }
    o.pull.hub = hub::hub_options_from_env(o.pull.hub, o.endpoint_given, o.token_given);
    o.pull.hub.progress = isatty(STDERR_FILENO) == 1;  // no bar into pipes or logs
    o.pull.offline = o.pull.offline || hub::offline_from_env();
    const auto dir = hub::models_dir();
    auto path = hub::resolve_or_pull(*ref, dir, o.pull, [](const std::string& text) { fmt::print(stderr, "{}\n", text); });
    if (!path) {
        fmt::print(stderr, "error: {}\n", path.error().message);
        return kExitError;
    }
    fmt::print("{}\n", *path);
    return kExitOk;
}

}  // namespace

void add_pull_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<PullCommandOptions>();
    CLI::App* cmd = app.add_subcommand("pull", "Download a GGUF model from a Hugging Face-style hub into the models cache");
    cmd->add_option("model", o->model, "REPO, REPO:QUANT (e.g. Q4_K_M, any case) or REPO:FILE.gguf")->required();
    cmd->add_option("--endpoint", o->pull.hub.endpoint, "Hub address, for mirrors (default: HF_ENDPOINT, else https://huggingface.co)")
        ->each([o](const std::string&) { o->endpoint_given = true; });
    cmd->add_option("--token", o->pull.hub.token, "Access token for gated or private repos, sent as a Bearer token (default: HF_TOKEN)")
        ->each([o](const std::string&) { o->token_given = true; });
    cmd->add_option("--revision", o->pull.hub.revision, "Branch, tag or commit of the repo");
    cmd->add_option("--retries", o->pull.hub.retries, "Resumed attempts after a dropped connection")->check(CLI::Range(0, 100));
    cmd->add_flag("--force", o->pull.force, "Download again even when the file is in the cache");
    cmd->add_flag("--offline", o->pull.offline, "Only look in the cache, never download (also ROCMFORGE_OFFLINE=1)");
    cmd->callback([o, &ctx] { ctx.exit_code = run_pull(*o); });
}

}  // namespace rf::cli
