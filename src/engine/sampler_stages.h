// The stages of the sampler chain, each a plain function so it can be tested on its own.
// Logit-space stages work on the full vocabulary; the filtering stages work on a candidate list.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace rf::engine {

struct Candidate {
    int32_t id;
    float logit;
    float p = 0.0f;  // probability, valid after softmax()
};

// logits[id] += bias for each (id, bias); ids outside the vocabulary are ignored.
void apply_logit_bias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias);

// Penalties over the recent tokens: a seen token's logit is divided by `repeat` when positive and
// multiplied by it when negative, then lowered by frequency * count + presence.
// `scratch` is working memory (kept by the caller so that sampling allocates nothing).
void apply_penalties(std::span<float> logits, std::span<const int32_t> recent, float repeat, float frequency,
                     float presence, std::vector<int32_t>& scratch);

// Fills `out` with every token (or only the best `limit` when 0 < limit < vocabulary, which equals
// top-k on the full list but sorts far less), sorted by logit (descending, ties by id), with
// probabilities set.
void make_candidates(std::span<const float> logits, std::vector<Candidate>& out, int64_t limit = 0);
// Recomputes probabilities of the list (sorted, descending) from its logits.
void softmax(std::vector<Candidate>& c);

// Each filter keeps at least `min_keep` candidates and expects a sorted list with probabilities;
// it leaves the list sorted with renormalised probabilities.
void top_k(std::vector<Candidate>& c, int64_t k);                  // k <= 0: no-op
void top_p(std::vector<Candidate>& c, float p, size_t min_keep = 1);  // smallest prefix with mass >= p
void min_p(std::vector<Candidate>& c, float p, size_t min_keep = 1);  // drop p_i < p * p_max
// Locally typical sampling: keeps the tokens whose surprise is closest to the entropy, up to mass p.
void typical_p(std::vector<Candidate>& c, float p, size_t min_keep = 1);
// Divides logits by t (> 0) and recomputes probabilities.
void apply_temperature(std::vector<Candidate>& c, float t);

}  // namespace rf::engine
