// rocmforge status [--host URL] [ID]: without an id, whether the server is live and ready and
// what it serves; with one, that request's state and token counts (GET /v1/requests/ID).
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/server_client.h"

namespace rf::cli {

namespace {

struct StatusOptions {
    ServerAddress address;
    std::string id;
};

int run_status(const StatusOptions& o) {
    auto client = connect(o.address);
    if (!client) {
        fmt::print(stderr, "error: {}\n", client.error().message);
        return kExitUsage;
    }
    if (!o.id.empty()) {
        auto res = (*client)->Get("/v1/requests/" + o.id);
        if (!res || res->status != 200) {
            fmt::print(stderr, "error: {}\n", describe_failure(res));
            return kExitError;
        }
        fmt::print("{}\n", nlohmann::json::parse(res->body, nullptr, false).dump(2));
        return kExitOk;
    }
    auto health = (*client)->Get("/health");
    if (!health || health->status != 200) {
        fmt::print(stderr, "error: {}\n", describe_failure(health));
        return kExitError;
    }
    auto ready = (*client)->Get("/ready");
    // /health needs no key, /ready does: a refused key is the answer, not "not ready".
    if (ready && ready->status == 401) {
        fmt::print(stderr, "error: {} (live, but the key was refused: --api-key)\n", describe_failure(ready));
        return kExitError;
    }
    auto models = (*client)->Get("/v1/models");
    const bool is_ready = ready && ready->status == 200;
    fmt::print("server: {} ({})\n", o.address.url, is_ready ? "ready" : "live, not ready");
    if (models && models->status == 200) {
        auto j = nlohmann::json::parse(models->body, nullptr, false);
        if (j.is_object() && j.contains("data"))
            for (const auto& m : j["data"])
                fmt::print("model:  {} (context {})\n", m.value("id", "?"), m.value("max_model_len", 0));
    } else {
        fmt::print(stderr, "models: {}\n", describe_failure(models));
    }
    return is_ready ? kExitOk : kExitError;
}

}  // namespace

void add_status_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<StatusOptions>();
    CLI::App* cmd = app.add_subcommand("status", "Ask a running server whether it is ready, or about one request");
    cmd->add_option("--host", o->address.url, "Server URL")->capture_default_str();
    cmd->add_option("--api-key", o->address.api_key, "API key of the server");
    cmd->add_option("id", o->id, "Request id (as in X-Request-Id or the response id)");
    cmd->callback([o, &ctx] { ctx.exit_code = run_status(*o); });
}

}  // namespace rf::cli
