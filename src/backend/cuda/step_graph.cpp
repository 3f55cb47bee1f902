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
    gpuGraph_t graph = nullptr;
    if (gpuError_t err = gpuStreamEndCapture(stream, &graph); err != gpuSuccess || !graph) {
        // What was captured never ran: the step cannot go on. Later steps run without graphs.
        on_ = in_step_ = false;
        return make_error("GPU: capturing a step as a graph failed: {}", gpuGetErrorString(err));
    }
    const size_t index = chunk_++;
    gpuError_t err = gpuSuccess;
    if (index < execs_.size() && !gpuGraphExecUpdated(execs_[index], graph)) {
        gpuGetLastError();  // a failed update leaves an error behind
        gpuGraphExecDestroy(execs_[index]);
        err = gpuGraphInstantiate(&execs_[index], graph);
    } else if (index >= execs_.size()) {
        execs_.resize(index + 1, nullptr);
        err = gpuGraphInstantiate(&execs_[index], graph);
    }
    if (err == gpuSuccess) err = gpuGraphLaunch(execs_[index], stream);
    gpuGraphDestroy(graph);
    if (err != gpuSuccess) {
        if (index < execs_.size()) execs_[index] = nullptr;  // not usable again
        on_ = in_step_ = false;
        return make_error("GPU: launching a step's graph failed: {}", gpuGetErrorString(err));
    }
    return ok_status();
}

}  // namespace rf::gpu
