// Where a step's time goes on the GPU, for tuning: on when ROCMFORGE_GPU_PROFILE is set in the
// environment (off, it costs one branch per op). Each op's GPU time is the time between the end of
// the previous op and its own end (events recorded after each launch, so launch gaps count against
// the op that waited); the host's share is the time from begin_step until the step's download
// waits, and the wait itself. The first step (allocations, library set-up) is left out. The
// backend prints the totals to stderr when it goes away.
// ROCMFORGE_GPU_PROFILE=host measures only the host's share (no events, step graphs kept), and
// the host's time between steps (sampling, the next batch): with graphs, whether the GPU waits
// for the host.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "backend/cuda/gpu_runtime.h"

namespace rf::gpu {

class StepProfile {
public:
    StepProfile();
    ~StepProfile();
    StepProfile(const StepProfile&) = delete;
    StepProfile& operator=(const StepProfile&) = delete;

    bool on() const { return on_; }
    void begin_step(gpuStream_t stream);
    void op_done(gpuStream_t stream, std::string_view op);
    void before_wait(gpuStream_t stream);  // the step is enqueued; the host waits next
    void after_wait();                     // the step finished: its times are added up
    std::string report() const;

private:
    using Clock = std::chrono::steady_clock;
    gpuEvent_t next_event();

    bool on_ = false;
    bool host_only_ = false;
    bool in_step_ = false;
    bool warmed_up_ = false;
    std::vector<gpuEvent_t> events_;  // reused every step
    size_t used_ = 0;
    std::vector<std::string> names_;  // of events_[1..used_)
    struct Total {
        double ms = 0;
        int64_t count = 0;
    };
    std::map<std::string, Total> ops_;
    Total enqueue_, wait_, gpu_, between_;
    Clock::time_point step_start_, wait_start_, step_end_;
};

}  // namespace rf::gpu
