// A set of Unicode code points as sorted, disjoint, inclusive ranges, with an ASCII bitmap for the
// common case. Negated classes of the text form ([^"\\]) are stored as their complement, so a
// set is always a plain union of ranges.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace rf::grammar {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

class CharSet {
public:
    CharSet() = default;
    // Any order, overlaps allowed; `negate` takes the complement within [0, U+10FFFF].
    CharSet(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate);
    static CharSet single(uint32_t cp) { return CharSet({{cp, cp}}, false); }
    static CharSet any() { return CharSet({}, true); }

    bool contains(uint32_t cp) const;
    // True when some code point in [lo, hi] is in the set.
    bool intersects(uint32_t lo, uint32_t hi) const;
    bool empty() const { return ranges_.empty(); }
    const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

private:
    std::vector<std::pair<uint32_t, uint32_t>> ranges_;
    std::array<uint64_t, 2> ascii_{};  // bit c set when ASCII character c is in the set
};

}  // namespace rf::grammar
