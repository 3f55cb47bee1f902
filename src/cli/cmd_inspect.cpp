// rocmforge inspect FILE [--json] [--all-metadata]: what a GGUF file holds, and whether it is valid;
// with --plan, where each part of the model would run (plan_report.h).
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_summary.h"
#include "cli/plan_report.h"

namespace rf::cli {
namespace {

struct InspectOptions {
    std::string path;
    bool json = false;
    bool all_metadata = false;
    bool plan = false;
    PlanOptions plan_options;
};

std::string shape_string(const std::vector<uint64_t>& shape) {
    std::string out;
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? " x " : "") + std::to_string(shape[i]);
    return out;
}

void print_text(const gguf::File& file, const ModelSummary& s, bool all_metadata) {
    fmt::print("file:         {}\n", file.path());
    fmt::print("format:       GGUF v{}, {} metadata keys, {} tensors, alignment {}, {}\n", file.version(),
               file.metadata().size(), file.tensors().size(), file.alignment(), format_bytes(file.file_size()));
    fmt::print("architecture: {}{}\n", s.architecture.empty() ? "(none)" : s.architecture,
               s.name.empty() ? "" : fmt::format("  ({})", s.name));
    fmt::print("parameters:   {} ({} of tensor data, mostly {})\n", format_count(s.parameters),
               format_bytes(s.tensor_bytes), s.dominant_type.empty() ? "-" : s.dominant_type);

    if (!s.hyperparameters.empty()) {
        fmt::print("\nhyper-parameters:\n");
        for (const auto& [key, value] : s.hyperparameters) fmt::print("  {:<40} {}\n", key, value);
    }
    if (all_metadata) {
        fmt::print("\nmetadata:\n");
        for (const auto& entry : file.metadata())
            fmt::print("  {:<48} {}\n", entry.key, entry.value.to_display_string());
    }

    const TokenizerSummary& t = s.tokenizer;
    fmt::print("\ntokenizer:    ");
    if (!t.present) {
        fmt::print("(none)\n");
    } else {
        fmt::print("{}{}, {} tokens, {} merges, bos {}, eos {}, chat template: {}\n", t.model,
                   t.pre.empty() ? "" : " (pre: " + t.pre + ")", t.vocab_size, t.merges, t.bos.empty() ? "-" : t.bos,
                   t.eos.empty() ? "-" : t.eos,
                   t.chat_template_chars ? fmt::format("{} chars", t.chat_template_chars) : "none");
    }

    if (!file.tensors().empty()) {
        fmt::print("\n{:<48} {:<8} {:<24} {:>12}\n", "tensor", "type", "shape", "bytes");
        for (const auto& info : file.tensors())
            fmt::print("{:<48} {:<8} {:<24} {:>12}\n", info.name, tensor_type_name(info.type),
                       shape_string(info.shape), info.n_bytes);
        fmt::print("\n{:<8} {:>8} {:>16} {:>14}\n", "type", "tensors", "elements", "size");
        for (const auto& [type, totals] : s.by_type)
            fmt::print("{:<8} {:>8} {:>16} {:>14}\n", type, totals.tensors, totals.elements, format_bytes(totals.bytes));
    }

    fmt::print("\nverdict:      valid GGUF");
    if (s.warnings.empty()) fmt::print("\n");
    for (size_t i = 0; i < s.warnings.size(); ++i) fmt::print("{}{}", i ? "; " : " (", s.warnings[i]);
    if (!s.warnings.empty()) fmt::print(")\n");
}

nlohmann::json tensors_json(const gguf::File& file) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& t : file.tensors()) {
        list.push_back({{"name", t.name}, {"type", tensor_type_name(t.type)}, {"shape", t.shape},
                        {"offset", t.offset}, {"bytes", t.n_bytes}});
    }
    return list;
}

int run_inspect(const InspectOptions& opts) {
    if (opts.plan) {
        PlanOptions plan = opts.plan_options;
        plan.json = opts.json;
        return run_plan(opts.path, plan);
    }
    auto file = gguf::File::open(opts.path);
    if (!file) {
        if (opts.json) {
            fmt::print("{}\n", nlohmann::json{{"file", opts.path}, {"valid", false}, {"error", file.error().message}}.dump(2));
        } else {
            fmt::print(stderr, "error: {}\nverdict: invalid GGUF\n", file.error().message);
        }
        return kExitError;
    }
    ModelSummary summary = summarize(*file);
    if (opts.json) {
        nlohmann::json j = to_json(summary);
        j["file"] = opts.path;
        j["valid"] = true;
        j["version"] = file->version();
        j["file_size"] = file->file_size();
        j["tensors"] = tensors_json(*file);
        if (opts.all_metadata) {
            for (const auto& entry : file->metadata()) j["metadata"][entry.key] = entry.value.to_display_string(64);
        }
        fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
        print_text(*file, summary, opts.all_metadata);
    }
    return kExitOk;
}

}  // namespace

void add_inspect_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<InspectOptions>();
    CLI::App* cmd = app.add_subcommand("inspect", "Show a GGUF file's architecture, tokenizer and tensors, and validate it");
    cmd->add_option("FILE", opts->path, "GGUF file")->required();
    cmd->add_flag("--json", opts->json, "Machine-readable output");
    cmd->add_flag("--all-metadata", opts->all_metadata, "Also list every metadata key");
    cmd->add_flag("--plan", opts->plan,
                  "Show where each part of the model would run with the device, context and sequence options "
                  "below (nothing is loaded)");
    add_plan_options(*cmd, opts->plan_options);
    cmd->callback([opts, &ctx] { ctx.exit_code = run_inspect(*opts); });
}

}  // namespace rf::cli
