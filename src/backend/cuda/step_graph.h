// A step's kernels recorded as CUDA graphs and replayed, so that the device runs them back to back
// instead of paying a launch each (a decode step is hundreds of small kernels). The ops of a step
// are captured in chunks of kChunkOps: once a chunk is captured it is launched, so the device works
// on one chunk while the host records the next. Each chunk's executable graph is kept and updated
// in place with the next step's chunk at the same index (same kernels, new arguments), which is far
// cheaper than instantiating one.
//
// Capture starts at a step's first op (after the batch's uploads) and is flushed (what was captured
// is launched, later ops are captured afresh) wherever a captured stream may not go: a host wait, an
// upload from pageable memory, a BLAS call, a scratch buffer's growth, the split counters' first
// use. Off where ROCMFORGE_GPU_GRAPHS=0, while profiling (the profile times single launches), and
// for good after a capture or graph launch fails (the step that saw it fails; later ones run
// directly).
// A step that reaches a BLAS product (a prompt) runs directly from there on, so its chunk 0 differs
// from a decode step's: switching between the two instantiates that chunk again.
#pragma once

#include <vector>

#include "backend/cuda/gpu_runtime.h"
#include "core/result.h"

namespace rf::gpu {

class StepGraph {
public:
    explicit StepGraph(bool allowed);
    ~StepGraph();
    StepGraph(const StepGraph&) = delete;
    StepGraph& operator=(const StepGraph&) = delete;

    // (A capture a failed step left open is flushed first.)
    Status begin_step(gpuStream_t stream) {
        Status flushed = flush(stream);
        in_step_ = on_;
        chunk_ = 0;
        return flushed;
    }
    // Before an op enqueues on `stream`: inside a step, starts capturing if not yet.
    void before_op(gpuStream_t stream);
    // After an op: a full chunk is launched.
    Status after_op(gpuStream_t stream);
    // Ends the capture, if any, and launches what it recorded.
    Status flush(gpuStream_t stream);
    // flush, and the rest of the step runs directly (a prompt step's products are few and large).
    Status direct(gpuStream_t stream) {
        Status flushed = flush(stream);
        in_step_ = false;
        return flushed;
    }
    // The step's last chunk is launched; ops until the next begin_step run directly.
    Status end_step(gpuStream_t stream) { return direct(stream); }

private:
    static constexpr int kChunkOps = 48;

    bool on_ = false;
    bool in_step_ = false;
    bool capturing_ = false;
    int ops_ = 0;       // in the chunk being captured
    size_t chunk_ = 0;  // index of that chunk in the step
    std::vector<gpuGraphExec_t> execs_;  // by chunk index, kept between steps
};

}  // namespace rf::gpu
