#include "backend/cuda/step_profile.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace rf::gpu {

StepProfile::StepProfile() {
    const char* env = std::getenv("ROCMFORGE_GPU_PROFILE");
    host_only_ = env && std::string_view(env) == "host";
    on_ = env && !host_only_;
}

StepProfile::~StepProfile() {
    if ((on_ || host_only_) && enqueue_.count > 0) fmt::print(stderr, "{}", report());
    for (gpuEvent_t e : events_) gpuEventDestroy(e);
}

gpuEvent_t StepProfile::next_event() {
    if (used_ == events_.size()) {
        gpuEvent_t e = nullptr;
        if (gpuEventCreate(&e) != gpuSuccess) return nullptr;
        events_.push_back(e);
    }
    return events_[used_++];
}

void StepProfile::begin_step(gpuStream_t stream) {
    if (!on_ && !host_only_) return;
    used_ = 0;
    names_.clear();
    in_step_ = true;
    step_start_ = Clock::now();
    if (enqueue_.count > 0) {
        between_.ms += std::chrono::duration<double, std::milli>(step_start_ - step_end_).count();
        ++between_.count;
    }
    if (host_only_) return;
    if (gpuEvent_t e = next_event()) gpuEventRecord(e, stream);
}

void StepProfile::op_done(gpuStream_t stream, std::string_view op) {
    if (!on_ || !in_step_ || used_ == 0) return;
    if (gpuEvent_t e = next_event()) {
        gpuEventRecord(e, stream);
        names_.emplace_back(op);
    }
}

void StepProfile::before_wait(gpuStream_t stream) {
    if (!in_step_) return;
    op_done(stream, "(download)");
    wait_start_ = Clock::now();
}

void StepProfile::after_wait() {
    if (!in_step_) return;
    in_step_ = false;
    if (!warmed_up_) {  // the first step allocates buffers and sets libraries up: not counted
        warmed_up_ = true;
        return;
    }
    const auto now = Clock::now();
    step_end_ = now;
    enqueue_.ms += std::chrono::duration<double, std::milli>(wait_start_ - step_start_).count();
    wait_.ms += std::chrono::duration<double, std::milli>(now - wait_start_).count();
    ++enqueue_.count;
    ++wait_.count;
    for (size_t i = 1; i < used_; ++i) {
        float ms = 0;
        if (gpuEventElapsedTime(&ms, events_[i - 1], events_[i]) != gpuSuccess) continue;
        Total& t = ops_[names_[i - 1]];
        t.ms += ms;
        ++t.count;
        gpu_.ms += ms;
    }
    ++gpu_.count;
}

std::string StepProfile::report() const {
    std::string out = fmt::format("[gpu profile] {} steps: host enqueue {:.3f} ms/step, host wait {:.3f} ms/step, "
                                  "host between steps {:.3f} ms",
                                  enqueue_.count, enqueue_.ms / enqueue_.count, wait_.ms / wait_.count,
                                  between_.count > 0 ? between_.ms / between_.count : 0.0);
    out += host_only_ ? "\n" : fmt::format(", GPU {:.3f} ms/step\n", gpu_.ms / gpu_.count);
    std::vector<std::pair<std::string, Total>> sorted(ops_.begin(), ops_.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    for (const auto& [name, t] : sorted)
        out += fmt::format("[gpu profile]   {:<24} {:8.3f} ms/step {:6.1f}%  {:7.1f} launches/step  {:7.2f} us each\n",
                           name, t.ms / gpu_.count, 100.0 * t.ms / gpu_.ms, static_cast<double>(t.count) / gpu_.count,
                           1000.0 * t.ms / static_cast<double>(t.count));
    return out;
}

}  // namespace rf::gpu
