// How an embedding is made of a text's final hidden states: their mean, or the last token's row,
// scaled to unit length. Shared by the Embedder (its own engine) and the scheduler (embeddings
// computed in generation's steps).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace rf::engine {

enum class Pooling { Mean, Last };
std::string_view pooling_name(Pooling pooling);
Result<Pooling> parse_pooling(std::string_view name);  // "mean" or "last"

// Whether the row of token `i` of `n` takes part in the pooling.
inline bool pooled(Pooling pooling, size_t i, size_t n) { return pooling == Pooling::Mean || i + 1 == n; }

// The sum of the pooled rows scaled to unit length (the mean's 1/n drops out); an Error when it
// has no direction.
Result<std::vector<float>> unit_length(std::span<const double> sum);

}  // namespace rf::engine
