// rocmforge devices [--self-test]: the GPUs this build can use. Present in every build; one
// without GPU support, or a machine without a GPU, says so and succeeds, so that scripts can ask
// any binary (a self-test without a GPU fails).
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_summary.h"
#if defined(ROCMFORGE_HAVE_CUDA)
#include "backend/cuda/device_info.h"
#endif

namespace rf::cli {
namespace {

#if defined(ROCMFORGE_HAVE_CUDA)
int run_devices(bool self_test) {
    auto info = gpu::query_devices();
    if (!info) {  // no GPU or no driver: an answer, not a failure (unless a self-test was asked for)
        fmt::print("no usable GPU ({})\n", info.error().message);
        return self_test ? kExitError : kExitOk;
    }
    fmt::print("driver {}.{}, runtime {}.{}, {} device(s)\n", info->driver_version / 1000,
               info->driver_version % 1000 / 10, info->runtime_version / 1000, info->runtime_version % 1000 / 10,
               info->devices.size());
    int status = kExitOk;
    for (const auto& d : info->devices) {
        fmt::print("  [{}] {}  sm_{}{}  {} SMs  {} total, {} free  L2 {}  bus {} bits\n", d.index, d.name,
                   d.compute_major, d.compute_minor, d.multiprocessors, format_bytes(d.total_memory),
                   format_bytes(d.free_memory), format_bytes(d.l2_cache_bytes), d.memory_bus_width_bits);
        if (self_test) {
            Status ok = gpu::self_test(d.index);
            fmt::print("      self-test: {}\n", ok ? "passed" : ok.error().message);
            if (!ok) status = kExitError;
        }
    }
    return status;
}
#else
int run_devices(bool) {
    fmt::print("no GPU support in this build\n");
    return kExitOk;
}
#endif

}  // namespace

void add_devices_command(CLI::App& app, CommandContext& ctx) {
    auto self_test = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("devices", "List the GPUs this build can use");
    cmd->add_flag("--self-test", *self_test, "Run a small kernel on each device and check its result");
    cmd->callback([self_test, &ctx] { ctx.exit_code = run_devices(*self_test); });
}

}  // namespace rf::cli
