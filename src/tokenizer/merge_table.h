// Merge rules keyed by the pair of token ids: an open-addressing hash table (linear probing,
// multiplicative hashing), since looking up pairs is most of the work of byte-level BPE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rf::tokenizer {

// One merge rule: the pair (left, right) becomes `result`; lower rank merges first (BPE: the
// rule's position in the merge list; SPM: derived from the result's score).
struct MergeRule {
    uint32_t rank;
    int32_t result;
};

class MergeTable {
public:
    // Adds a rule; the first rule for a pair wins.
    void insert(int32_t left, int32_t right, MergeRule rule);
    const MergeRule* find(int32_t left, int32_t right) const {
        if (slots_.empty() || left < 0 || right < 0) return nullptr;
        const uint64_t key = pack(left, right);
        for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.key == key) return &slot.rule;
            if (slot.key == kEmpty) return nullptr;
        }
    }
    size_t size() const { return size_; }
    void clear();

private:
    struct Slot {
        uint64_t key;
        MergeRule rule;
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are non-negative, so no pair packs to this

    static uint64_t pack(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }
    size_t slot_of(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_; }
    void grow();

    std::vector<Slot> slots_;
    size_t size_ = 0;
    size_t mask_ = 0;
    unsigned shift_ = 64;
};

}  // namespace rf::tokenizer
