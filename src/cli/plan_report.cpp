#include "cli/plan_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_summary.h"
#include "model/hparams.h"

namespace rf::cli {

void add_plan_options(CLI::App& cmd, PlanOptions& o) {
    add_device_flags(cmd, o.device);
    cmd.add_option("-c,--ctx-size", o.n_ctx, "Plan: context size in tokens (0: the model's)")->check(number_in(0, 1 << 24));
    cmd.add_option("-b,--batch-size", o.n_batch, "Plan: tokens per step")->check(number_in(1, 65536));
    cmd.add_option("--parallel", o.parallel, "Plan: sequences held at once")->check(number_in(1, 4096));
    add_kv_type_options(cmd, o.kv_type);
}

int run_plan(const std::string& path, const PlanOptions& o) {
    const auto fail = [&](const Error& e) {
        fmt::print(stderr, "error: {}\n", e.message);
        return kExitError;
    };
    auto kv = kv_type(o.kv_type);
    if (!kv) return fail(kv.error());
    auto file = gguf::File::open(path);
    if (!file) return fail(file.error());
    auto hp = model::read_hparams(*file);
    if (!hp) return fail(hp.error());
    auto backends = make_backends(o.device, 0, {});
    if (!backends) return fail(backends.error());
    const engine::EngineOptions options{
        .n_ctx = o.n_ctx, .n_batch = o.n_batch, .max_sequences = o.parallel, .block_size = 16, .kv_type = *kv};
    model::Placement placement = model::Placement::single(*backends->main, hp->n_layer);
    engine::PlanEstimate e;
    if (backends->cpu) {
        auto planned = engine::plan_split(*file, *hp, *backends->main, *backends->cpu, backends->split, options, &e);
        if (!planned) return fail(planned.error());
        placement = *planned;
    }
    nlohmann::json layers = nlohmann::json::array();
    for (int64_t il = 0; il < hp->n_layer; ++il) {
        nlohmann::json layer{{"layer", il}, {"backend", placement.backend(placement.layers[il]).name()}};
        if (!e.layer_weight_bytes.empty()) {
            layer["gpu_weight_bytes"] = e.layer_weight_bytes[il];
            layer["gpu_kv_bytes"] = e.layer_kv_bytes;
            layer["gpu_can_hold"] = static_cast<bool>(e.layer_supported[il]);
        }
        layers.push_back(layer);
    }
    if (o.json) {
        nlohmann::json j{{"file", path},
                         {"placement", placement.describe()},
                         {"backends", placement.backend_names()},
                         {"devices", placement.device_names()},
                         {"embedding", placement.backend(placement.input).name()},
                         {"output", placement.backend(placement.output).name()},
                         {"layers", layers},
                         {"notes", e.notes}};
        if (backends->cpu) {
            j["gpu_free_bytes"] = e.gpu_free_bytes;
            j["gpu_budget_bytes"] = e.gpu_budget_bytes;
            j["gpu_output_bytes"] = e.output_bytes;
            j["gpu_state_bytes"] = e.state_bytes;
        }
        fmt::print("{}\n", j.dump(2));
        return kExitOk;
    }
    fmt::print("file:       {}\n", path);
    fmt::print("placement:  {}\n", placement.describe());
    fmt::print("devices:    {}\n", placement.device_names());
    if (backends->cpu) {
        fmt::print("gpu memory: {} free; the plan counts {} of forward state, {} for the output head and per layer "
                   "its weights and {} of KV cache (one context of {} tokens; the pool takes what is left)\n",
                   e.gpu_free_bytes ? format_bytes(e.gpu_free_bytes) : "unknown", format_bytes(e.state_bytes),
                   format_bytes(e.output_bytes), format_bytes(e.layer_kv_bytes), o.n_ctx ? o.n_ctx : hp->n_ctx_train);
        fmt::print("\n{:<6} {:<8} {:>14}\n", "layer", "backend", "gpu weights");
        for (const auto& l : layers)
            fmt::print("{:<6} {:<8} {:>14}{}\n", l["layer"].get<int64_t>(), l["backend"].get<std::string>(),
                       format_bytes(l["gpu_weight_bytes"].get<uint64_t>()),
                       l["gpu_can_hold"].get<bool>() ? "" : "  (a format the GPU cannot compute with)");
    }
    for (const std::string& note : e.notes) fmt::print("note: {}\n", note);
    return kExitOk;
}

}  // namespace rf::cli
