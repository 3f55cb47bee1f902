#include "engine/pooling.h"

#include <cmath>

namespace rf::engine {

std::string_view pooling_name(Pooling pooling) { return pooling == Pooling::Mean ? "mean" : "last"; }

Result<Pooling> parse_pooling(std::string_view name) {
    if (name == "mean") return Pooling::Mean;
    if (name == "last") return Pooling::Last;
    return make_error("pooling '{}' is not one of mean, last", name);
}

Result<std::vector<float>> unit_length(std::span<const double> sum) {
    double norm = 0.0;
    for (double x : sum) norm += x * x;
    norm = std::sqrt(norm);
    if (!(norm > 0.0) || !std::isfinite(norm)) return make_error("the hidden state has no direction (norm {})", norm);
    std::vector<float> out(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i] / norm);
    return out;
}

}  // namespace rf::engine
