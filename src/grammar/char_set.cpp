#include "grammar/char_set.h"

#include <algorithm>

namespace rf::grammar {

CharSet::CharSet(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate) {
    for (auto& [lo, hi] : ranges) hi = std::min(hi, kMaxCodePoint);
    std::erase_if(ranges, [](const auto& r) { return r.first > r.second; });
    std::sort(ranges.begin(), ranges.end());
    for (const auto& r : ranges) {
        if (!ranges_.empty() && r.first <= ranges_.back().second + 1)
            ranges_.back().second = std::max(ranges_.back().second, r.second);
        else
            ranges_.push_back(r);
    }
    if (negate) {
        std::vector<std::pair<uint32_t, uint32_t>> complement;
        uint32_t next = 0;
        for (const auto& [lo, hi] : ranges_) {
            if (lo > next) complement.emplace_back(next, lo - 1);
            next = hi + 1;
        }
        if (next <= kMaxCodePoint) complement.emplace_back(next, kMaxCodePoint);
        ranges_ = std::move(complement);
    }
    for (const auto& [lo, hi] : ranges_)
        for (uint32_t c = lo; c <= std::min(hi, 127u); ++c) ascii_[c / 64] |= uint64_t{1} << (c % 64);
}

bool CharSet::contains(uint32_t cp) const {
    if (cp < 128) return (ascii_[cp / 64] >> (cp % 64)) & 1;
    return intersects(cp, cp);
}

bool CharSet::intersects(uint32_t lo, uint32_t hi) const {
    // The first range that ends at or after `lo`; it intersects when it starts at or before `hi`.
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), lo,
                               [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
    return it != ranges_.end() && it->first <= hi;
}

}  // namespace rf::grammar
