#include "backend/cuda/step_graph.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace rf::gpu {

namespace {
bool graphs_wanted() {
    const char* env = std::getenv("ROCMFORGE_GPU_GRAPHS");
    return !(env && std::strcmp(env, "0") == 0);
}
}  // namespace

StepGraph::StepGraph(bool allowed) : on_(allowed && graphs_wanted()) {}

StepGraph::~StepGraph() {
    for (gpuGraphExec_t e : execs_)
        if (e) gpuGraphExecDestroy(e);
}

void StepGraph::before_op(gpuStream_t stream) {
    if (!in_step_ || capturing_) return;
    if (gpuStreamBeginCapture(stream, gpuStreamCaptureModeRelaxed) != gpuSuccess) {
        gpuGetLastError();
        in_step_ = false;  // this step runs directly
        return;
    }
    capturing_ = true;
    ops_ = 0;
}

Status StepGraph::after_op(gpuStream_t stream) {
    if (!capturing_ || ++ops_ < kChunkOps) return ok_status();
    return flush(stream);
}

Status StepGraph::flush(gpuStream_t stream) {
    if (!capturing_) return ok_status();
    capturing_ = false;
    // Any failure here: the error is cleared (so that later launches are not blamed for it) and the
    // backend goes on without graphs.
    const auto give_up = [&](gpuError_t err, const char* what) -> Status {
        gpuGetLastError();
        on_ = in_step_ = false;
        Error e = make_error("GPU: {} a step's graph failed: {}", what, gpuGetErrorString(err));
        e.device_lost = gpu_error_is_sticky(err);
        return e;
    };
    gpuGraph_t graph = nullptr;
    if (gpuError_t err = gpuStreamEndCapture(stream, &graph); err != gpuSuccess || !graph)
        return give_up(err != gpuSuccess ? err : gpuErrorInvalidValue, "capturing");  // what it held never ran
    const size_t index = chunk_++;
    if (index >= execs_.size()) execs_.resize(index + 1, nullptr);
    gpuGraphExec_t& exec = execs_[index];
    gpuError_t err = gpuSuccess;
    if (!exec || !gpuGraphExecUpdated(exec, graph)) {
        gpuGetLastError();  // a failed update leaves an error behind
        if (exec) gpuGraphExecDestroy(exec);
        exec = nullptr;
        err = gpuGraphInstantiate(&exec, graph);
    }
    if (err == gpuSuccess) err = gpuGraphLaunch(exec, stream);
    gpuGraphDestroy(graph);
    if (err != gpuSuccess) {
        if (exec) gpuGraphExecDestroy(exec);
        exec = nullptr;
        return give_up(err, "launching");
    }
    return ok_status();
}

}  // namespace rf::gpu
