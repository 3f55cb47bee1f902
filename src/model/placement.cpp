#include "model/placement.h"

#include <algorithm>

#include <fmt/ranges.h>

namespace rf::model {

Placement Placement::single(Backend& backend, int64_t n_layers) {
    return {.backends = {&backend}, .input = 0, .layers = std::vector<int>(static_cast<size_t>(n_layers), 0), .output = 0};
}

Placement Placement::split(Backend& gpu, Backend& cpu, int64_t n_layers, int64_t gpu_layers, bool output_on_gpu) {
    gpu_layers = std::clamp<int64_t>(gpu_layers, 0, n_layers);
    if (gpu_layers == n_layers && output_on_gpu) return single(gpu, n_layers);
    if (gpu_layers == 0 && !output_on_gpu) return single(cpu, n_layers);
    constexpr int kGpu = 0, kCpu = 1;
    Placement p{.backends = {&gpu, &cpu}, .input = kCpu, .layers = {}, .output = output_on_gpu ? kGpu : kCpu};
    for (int64_t il = 0; il < n_layers; ++il) p.layers.push_back(il < gpu_layers ? kGpu : kCpu);
    return p;
}

int64_t Placement::layers_on(int part) const { return std::count(layers.begin(), layers.end(), part); }

std::string Placement::describe() const {
    std::string text;
    for (int part = 0; part < parts(); ++part) {
        std::vector<std::string> pieces;
        if (input == part) pieces.emplace_back("embedding");
        // Runs of consecutive layers, "layers 0-15".
        for (size_t il = 0; il < layers.size();) {
            if (layers[il] != part) {
                ++il;
                continue;
            }
            size_t end = il;
            while (end + 1 < layers.size() && layers[end + 1] == part) ++end;
            pieces.push_back(il == end ? fmt::format("layer {}", il) : fmt::format("layers {}-{}", il, end));
            il = end + 1;
        }
        if (output == part) pieces.emplace_back("output");
        if (!text.empty()) text += "; ";
        text += fmt::format("{}: {}", backend(part).name(), fmt::join(pieces, ", "));
    }
    return text;
}

std::string Placement::backend_names() const {
    std::vector<std::string> names;
    for (const Backend* b : backends) names.push_back(b->name());
    return fmt::format("{}", fmt::join(names, "+"));
}

std::string Placement::device_names() const {
    std::vector<std::string> names;
    for (const Backend* b : backends) names.push_back(b->device_name());
    return fmt::format("{}", fmt::join(names, " + "));
}

Status Placement::check(int64_t n_layers) const {
    const auto valid = [&](int part) { return part >= 0 && part < parts() && backends[static_cast<size_t>(part)]; };
    if (backends.empty() || !valid(input) || !valid(output)) return make_error("placement: no backend for a part");
    if (static_cast<int64_t>(layers.size()) != n_layers)
        return make_error("placement names {} layers, the model has {}", layers.size(), n_layers);
    for (int part : layers)
        if (!valid(part)) return make_error("placement: a layer has no backend");
    return ok_status();
}

}  // namespace rf::model
