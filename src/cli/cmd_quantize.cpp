// rocmforge quantize IN OUT TYPE [-t N]: writes a quantized copy of a GGUF model.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_summary.h"
#include "quant/model_quantizer.h"

namespace rf::cli {
namespace {

struct QuantizeCommandOptions {
    std::string input, output, type;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool quiet = false;
};

std::string joined_presets() {
    std::string out;
    for (const auto& name : quant::preset_names()) out += (out.empty() ? "" : ", ") + name;
    return out;
}

int run_quantize(const QuantizeCommandOptions& opts) {
    auto preset = quant::find_preset(opts.type);
    if (!preset) {
        fmt::print(stderr, "error: unknown quantization type '{}' (one of: {})\n", opts.type, joined_presets());
        return kExitUsage;
    }
    auto input = gguf::File::open(opts.input);
    if (!input) {
        fmt::print(stderr, "error: {}\n", input.error().message);
        return kExitError;
    }
    quant::QuantizeOptions qopts{.preset = *preset, .threads = opts.threads, .progress = {}};
    if (!opts.quiet) {
        qopts.progress = [](size_t i, size_t n, const std::string& name, TensorType type) {
            fmt::print(stderr, "\r[{:>4}/{}] {:<40} -> {:<8}", i + 1, n, name, tensor_type_name(type));
        };
    }
    auto start = std::chrono::steady_clock::now();
    Status st = quant::quantize_model(*input, opts.output, qopts);
    if (!opts.quiet) fmt::print(stderr, "\n");
    if (!st) {
        fmt::print(stderr, "error: {}\n", st.error().message);
        return kExitError;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto output = gguf::File::open(opts.output);
    if (!output) {
        fmt::print(stderr, "error: the written file does not read back: {}\n", output.error().message);
        return kExitError;
    }
    fmt::print("{} ({}) -> {} ({}, {}) in {:.1f} s with {} threads\n", opts.input, format_bytes(input->file_size()),
               opts.output, format_bytes(output->file_size()), preset->name, seconds, opts.threads);
    return kExitOk;
}

}  // namespace

void add_quantize_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<QuantizeCommandOptions>();
    CLI::App* cmd = app.add_subcommand("quantize", "Write a quantized copy of a GGUF model");
    cmd->add_option("IN", opts->input, "Input GGUF model")->required();
    cmd->add_option("OUT", opts->output, "Output GGUF file (never the input)")->required();
    cmd->add_option("TYPE", opts->type, "Target type or preset: " + joined_presets())->required();
    cmd->add_option("-t,--threads", opts->threads, "Worker threads")->check(number_in(1, 1024));
    cmd->add_flag("-q,--quiet", opts->quiet, "No progress output");
    cmd->callback([opts, &ctx] { ctx.exit_code = run_quantize(*opts); });
}

}  // namespace rf::cli
