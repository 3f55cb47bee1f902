#include "engine/sampler_stages.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rf::engine {

void apply_logit_bias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias) {
    for (const auto& [id, b] : bias)
        if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[id] += b;
}

void apply_penalties(std::span<float> logits, std::span<const int32_t> recent, float repeat, float frequency,
                     float presence, std::vector<int32_t>& scratch) {
    if (recent.empty() || (repeat == 1.0f && frequency == 0.0f && presence == 0.0f)) return;
    scratch.assign(recent.begin(), recent.end());
    std::sort(scratch.begin(), scratch.end());
    for (size_t i = 0; i < scratch.size();) {
        size_t j = i;
        while (j < scratch.size() && scratch[j] == scratch[i]) ++j;
        const int32_t id = scratch[i];
        if (id >= 0 && static_cast<size_t>(id) < logits.size()) {
            float& l = logits[id];
            l = l > 0.0f ? l / repeat : l * repeat;
            l -= frequency * static_cast<float>(j - i) + presence;
        }
        i = j;
    }
}

void softmax(std::vector<Candidate>& c) {
    if (c.empty()) return;
    const float max = c.front().logit;
    double sum = 0.0;
    for (auto& x : c) sum += x.p = std::exp(x.logit - max);
    for (auto& x : c) x.p = static_cast<float>(x.p / sum);
}

void make_candidates(std::span<const float> logits, std::vector<Candidate>& out, int64_t limit) {
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
    auto better = [](const Candidate& a, const Candidate& b) {
        return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
    };
    if (limit > 0 && static_cast<size_t>(limit) < out.size()) {
        std::nth_element(out.begin(), out.begin() + limit, out.end(), better);
        out.resize(static_cast<size_t>(limit));
    }
    std::sort(out.begin(), out.end(), better);
    softmax(out);
}

namespace {
void keep(std::vector<Candidate>& c, size_t n) {
    if (n < c.size()) c.resize(std::max<size_t>(n, 1));
    softmax(c);
}
}  // namespace

void top_k(std::vector<Candidate>& c, int64_t k) {
    if (k > 0) keep(c, static_cast<size_t>(k));
}

void top_p(std::vector<Candidate>& c, float p, size_t min_keep) {
    if (p >= 1.0f) return;
    double mass = 0.0;
    size_t n = 0;
    while (n < c.size()) {
        mass += c[n++].p;
        if (mass >= p && n >= min_keep) break;
    }
    keep(c, n);
}

void min_p(std::vector<Candidate>& c, float p, size_t min_keep) {
    if (p <= 0.0f || c.empty()) return;
    const float threshold = p * c.front().p;
    size_t n = 0;
    while (n < c.size() && (c[n].p >= threshold || n < min_keep)) ++n;
    keep(c, n);
}

void typical_p(std::vector<Candidate>& c, float p, size_t min_keep) {
    if (p >= 1.0f || c.empty()) return;
    double entropy = 0.0;
    for (const auto& x : c)
        if (x.p > 0.0f) entropy -= x.p * std::log(static_cast<double>(x.p));
    std::vector<size_t> order(c.size());
    std::iota(order.begin(), order.end(), 0);
    auto distance = [&](size_t i) { return std::abs(-std::log(static_cast<double>(c[i].p)) - entropy); };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return distance(a) < distance(b); });
    double mass = 0.0;
    size_t n = 0;
    while (n < order.size()) {
        mass += c[order[n++]].p;
        if (mass > p && n >= min_keep) break;
    }
    std::vector<Candidate> kept;
    kept.reserve(n);
    for (size_t i = 0; i < n; ++i) kept.push_back(c[order[i]]);
    std::sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
        return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
    });
    c = std::move(kept);
    softmax(c);
}

void apply_temperature(std::vector<Candidate>& c, float t) {
    for (auto& x : c) x.logit /= t;
    softmax(c);
}

}  // namespace rf::engine
