// rocmforge cancel --host URL ID: cancels a queued or running request (DELETE /v1/requests/ID).
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/server_client.h"

namespace rf::cli {

namespace {

struct CancelOptions {
    ServerAddress address;
    std::string id;
};

int run_cancel(const CancelOptions& o) {
    auto client = connect(o.address);
    if (!client) {
        fmt::print(stderr, "error: {}\n", client.error().message);
        return kExitUsage;
    }
    auto res = (*client)->Delete("/v1/requests/" + o.id);
    if (!res || res->status != 200) {
        fmt::print(stderr, "error: {}\n", describe_failure(res));
        return kExitError;
    }
    fmt::print("cancelled {}\n", o.id);
    return kExitOk;
}

}  // namespace

void add_cancel_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<CancelOptions>();
    CLI::App* cmd = app.add_subcommand("cancel", "Cancel a request on a running server");
    cmd->add_option("--host", o->address.url, "Server URL")->capture_default_str();
    cmd->add_option("--api-key", o->address.api_key, "API key of the server");
    cmd->add_option("id", o->id, "Request id")->required();
    cmd->callback([o, &ctx] { ctx.exit_code = run_cancel(*o); });
}

}  // namespace rf::cli
