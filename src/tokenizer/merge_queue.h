// The queue of candidate merges shared by the SPM and BPE encoders: a binary min-heap of packed
// 64-bit keys (priority in the high half, symbol position in the low half), so that a word of a
// million symbols keeps its queue compact and ties go to the leftmost pair.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace rf::tokenizer {

// Positions are 32-bit: a longer word (only ever hostile input) is merged in parts of this size.
inline constexpr size_t kMaxMergeBytes = size_t{1} << 30;

class MergeQueue {
public:
    // `priority`: lower pops first.
    void push(uint32_t priority, int32_t position) {
        heap_.push_back((static_cast<uint64_t>(priority) << 32) | static_cast<uint32_t>(position));
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
    bool empty() const { return heap_.empty(); }
    // Removes the smallest entry; returns its position and sets `priority`.
    int32_t pop(uint32_t& priority) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        uint64_t key = heap_.back();
        heap_.pop_back();
        priority = static_cast<uint32_t>(key >> 32);
        return static_cast<int32_t>(key & 0xFFFFFFFFu);
    }
    void clear() { heap_.clear(); }

private:
    std::vector<uint64_t> heap_;
};

// Maps a score where higher is better to a priority where lower pops first, preserving order
// (IEEE-754 floats compare like sign-magnitude integers).
inline uint32_t priority_of_score(float score) {
    uint32_t bits = std::bit_cast<uint32_t>(score);
    uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return ~ascending;
}

}  // namespace rf::tokenizer
