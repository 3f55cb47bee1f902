#include "tokenizer/merge_table.h"

#include <bit>

namespace rf::tokenizer {

void MergeTable::clear() {
    slots_.clear();
    size_ = 0;
    mask_ = 0;
    shift_ = 64;
}

void MergeTable::grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t capacity = old.empty() ? 64 : old.size() * 2;
    slots_.assign(capacity, Slot{kEmpty, {}});
    mask_ = capacity - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
    for (const Slot& slot : old) {
        if (slot.key == kEmpty) continue;
        size_t i = slot_of(slot.key);
        while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
        slots_[i] = slot;
    }
}

void MergeTable::insert(int32_t left, int32_t right, MergeRule rule) {
    if (left < 0 || right < 0) return;
    // Keep the load factor at or below one half so that probes stay short.
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t key = pack(left, right);
    size_t i = slot_of(key);
    while (slots_[i].key != kEmpty) {
        if (slots_[i].key == key) return;
        i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, rule};
    ++size_;
}

}  // namespace rf::tokenizer
