// Mixture-of-experts operations for the CPU backend: routing, the per-expert products (tokens
// gathered by expert so that each expert's weights are read once per batch) and the weighted sum.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/cpu_backend.h"

namespace rf::cpu {

Status CpuBackend::route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) {
    if (k <= 0 || k > logits.cols) return make_error("route_top_k: cannot pick {} of {} experts", k, logits.cols);
    for (int64_t t = 0; t < logits.rows; ++t) {
        const float* row = logits.data + t * logits.stride;
        const float max = *std::max_element(row, row + logits.cols);
        double sum = 0.0;
        for (int64_t e = 0; e < logits.cols; ++e) sum += std::exp(row[e] - max);
        int32_t* chosen = ids + t * k;
        // Ties keep the lower expert id first, so routing is deterministic.
        for (int64_t j = 0; j < k; ++j) {
            int32_t best = -1;
            for (int32_t e = 0; e < logits.cols; ++e) {
                if (std::find(chosen, chosen + j, e) != chosen + j) continue;
                if (best < 0 || row[e] > row[best]) best = e;
            }
            chosen[j] = best;
            weights[t * k + j] = static_cast<float>(std::exp(row[best] - max) / sum);
        }
        if (normalize) {
            float total = 0.0f;
            for (int64_t j = 0; j < k; ++j) total += weights[t * k + j];
            for (int64_t j = 0; j < k; ++j) weights[t * k + j] /= total;
        }
    }
    return ok_status();
}

Status CpuBackend::matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                                  const Act& y) {
    if (experts.count <= 0 || k <= 0 || y.rows % k != 0) return make_error("matmul_experts: bad arguments");
    const int64_t n_tokens = y.rows / k;
    const bool per_slot_input = x.rows == y.rows;
    if (!per_slot_input && x.rows != n_tokens) return make_error("matmul_experts: x has {} rows for {} tokens", x.rows, n_tokens);
    const int64_t in = experts.cols, out = experts.rows;
    if (x.cols != in || y.cols != out) return make_error("matmul_experts: shapes do not match");
    for (int64_t i = 0; i < y.rows; ++i)
        if (ids[i] < 0 || ids[i] >= experts.count)
            return make_error("matmul_experts: expert id {} out of range", ids[i]);

    for (int32_t e = 0; e < experts.count; ++e) {
        expert_rows_.clear();
        for (int64_t i = 0; i < y.rows; ++i)
            if (ids[i] == e) expert_rows_.push_back(static_cast<int32_t>(i));
        if (expert_rows_.empty()) continue;
        const int64_t n = static_cast<int64_t>(expert_rows_.size());
        if (expert_in_.size() < static_cast<size_t>(n * in)) expert_in_.resize(n * in);
        if (expert_out_.size() < static_cast<size_t>(n * out)) expert_out_.resize(n * out);
        for (int64_t j = 0; j < n; ++j) {
            const int64_t src = per_slot_input ? expert_rows_[j] : expert_rows_[j] / k;
            std::copy_n(x.data + src * x.stride, in, expert_in_.data() + j * in);
        }
        RF_TRY(matmul(experts.matrix(e), Act{expert_in_.data(), n, in, in}, Act{expert_out_.data(), n, out, out}));
        for (int64_t j = 0; j < n; ++j)
            std::copy_n(expert_out_.data() + j * out, out, y.data + expert_rows_[j] * y.stride);
    }
    return ok_status();
}

Status CpuBackend::combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) {
    if (k <= 0 || x.rows != out.rows * k || x.cols != out.cols) return make_error("combine_experts: shapes do not match");
    for_rows(out, [&](float* row, int64_t t) {
        std::fill(row, row + out.cols, 0.0f);
        for (int64_t j = 0; j < k; ++j) {
            const float w = weights[t * k + j];
            const float* src = x.data + (t * k + j) * x.stride;
            for (int64_t i = 0; i < out.cols; ++i) row[i] += w * src[i];
        }
    });
    return ok_status();
}

}  // namespace rf::cpu
