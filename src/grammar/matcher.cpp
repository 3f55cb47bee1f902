#include "grammar/matcher.h"

#include <algorithm>
#include <cassert>
#include <tuple>

namespace rf::grammar {

namespace {

// The smallest code point that needs `length` bytes (anything smaller would be an overlong form).
constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
// Frames made beyond twice the live ones before unreachable ones are dropped.
constexpr size_t kCollectAfter = size_t{1} << 16;

uint64_t intern_key(uint32_t pos, int32_t parent) { return uint64_t{pos} << 32 | static_cast<uint32_t>(parent + 1); }

}  // namespace

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
    interning_ = true;
    expansions_left_ = kMaxExpansions;
    for (uint32_t start : grammar_->alternatives[grammar_->root]) expand(next_frame(start, -1), heads_);
    interning_ = false;
    dedupe(heads_);
}

int32_t Matcher::push(uint32_t pos, int32_t parent) {
    if (interning_) {
        auto [it, added] = interned_.try_emplace(intern_key(pos, parent), static_cast<int32_t>(frames_.size()));
        if (!added) return it->second;
    }
    frames_.push_back({pos, parent});
    return static_cast<int32_t>(frames_.size() - 1);
}

void Matcher::expand(int32_t frame, std::vector<Head>& out) {
    // With an explicit work list, not recursion: a chain of rules each starting with the next may
    // be as long as the grammar. Rules that fan out again and again are cut off (only rejecting).
    pending_.assign(1, frame);
    size_t visited = 0;
    for (; !pending_.empty() && out.size() < kMaxHeads && visited < expansions_left_; ++visited) {
        const int32_t f = pending_.back();
        pending_.pop_back();
        if (f < 0) {
            out.push_back({});  // the whole grammar is matched
            continue;
        }
        const Frame fr = frames_[static_cast<size_t>(f)];
        const Element& e = grammar_->elements[fr.pos];
        if (e.kind == Element::Kind::Chars) {
            out.push_back({.top = f});
            continue;
        }
        // A rule reference: its caller continues after it, below each of its alternatives.
        const int32_t after = next_frame(fr.pos + 1, fr.parent);
        for (uint32_t start : grammar_->alternatives[e.index]) pending_.push_back(next_frame(start, after));
    }
    expansions_left_ -= visited;
    work_ += visited;
}

void Matcher::step(std::span<const Head> in, uint8_t byte, std::vector<Head>& out) {
    out.clear();
    work_ += in.size();
    expansions_left_ = kMaxExpansions;
    const auto matched = [&](int32_t top) {
        const Frame f = frames_[static_cast<size_t>(top)];
        expand(next_frame(f.pos + 1, f.parent), out);
    };
    for (const Head& h : in) {
        if (h.top < 0 || out.size() >= kMaxHeads) continue;
        const CharSet& set = grammar_->chars_at(frames_[static_cast<size_t>(h.top)].pos);
        Head next = h;
        if (h.need == 0) {
            if (byte < 0x80) {
                if (set.contains(byte)) matched(h.top);
                continue;
            }
            if (byte >= 0xC2 && byte <= 0xDF) next = {h.top, byte & 0x1Fu, 1, 2};
            else if (byte >= 0xE0 && byte <= 0xEF) next = {h.top, byte & 0x0Fu, 2, 3};
            else if (byte >= 0xF0 && byte <= 0xF4) next = {h.top, byte & 0x07u, 3, 4};
            else continue;  // a continuation byte without a lead, or never valid in UTF-8
        } else {
            if ((byte & 0xC0) != 0x80) continue;
            next.partial = h.partial << 6 | (byte & 0x3Fu);
            --next.need;
        }
        // The characters this prefix can still become: [lo, hi], less overlong forms and beyond U+10FFFF.
        const unsigned shift = 6u * next.need;
        const uint32_t lo = std::max(next.partial << shift, kMinForLength[next.length]);
        const uint32_t hi = std::min((next.partial << shift) | ((1u << shift) - 1), kMaxCodePoint);
        if (lo > hi) continue;
        if (next.need == 0) {
            const bool surrogate = lo >= 0xD800 && lo <= 0xDFFF;
            if (!surrogate && set.contains(lo)) matched(h.top);
        } else if (set.intersects(lo, hi)) {
            out.push_back(next);
        }
    }
    if (out.size() > kMaxHeads) out.resize(kMaxHeads);
    dedupe(out);
}

void Matcher::dedupe(std::vector<Head>& heads) const {
    if (heads.size() < 2) return;
    // Temporary frames are not interned, so compare what a top frame holds, not its index.
    const auto key = [&](const Head& h) {
        const Frame f = h.top < 0 ? Frame{0, -2} : frames_[static_cast<size_t>(h.top)];
        return std::tuple(f.pos, f.parent, h.partial, h.need, h.length);
    };
    std::sort(heads.begin(), heads.end(), [&](const Head& a, const Head& b) { return key(a) < key(b); });
    heads.erase(std::unique(heads.begin(), heads.end(), [&](const Head& a, const Head& b) { return key(a) == key(b); }),
                heads.end());
}

bool Matcher::accept(std::string_view bytes) {
    interning_ = true;
    byte_in_ = heads_;
    for (char c : bytes) {
        step(byte_in_, static_cast<uint8_t>(c), byte_out_);
        if (byte_out_.empty()) {
            interning_ = false;
            return false;
        }
        std::swap(byte_in_, byte_out_);
    }
    interning_ = false;
    heads_ = byte_in_;
    // Every accepted byte leaves frames behind; a long text would otherwise keep them all.
    if (frames_.size() > 2 * live_frames_ + kCollectAfter) collect_frames();
    return true;
}

void Matcher::collect_frames() {
    std::vector<int32_t> renumbered(frames_.size(), -1);
    for (const Head& h : heads_)
        for (int32_t f = h.top; f >= 0 && renumbered[static_cast<size_t>(f)] < 0; f = frames_[static_cast<size_t>(f)].parent)
            renumbered[static_cast<size_t>(f)] = 0;  // reached
    // A frame's parent is older than it, so walking up the indices renumbers parents first.
    std::vector<Frame> kept;
    interned_.clear();
    for (size_t i = 0; i < frames_.size(); ++i) {
        if (renumbered[i] < 0) continue;
        const int32_t parent = frames_[i].parent;
        assert(parent < static_cast<int32_t>(i));  // push() takes parents that exist already
        const Frame f{frames_[i].pos, parent < 0 ? parent : renumbered[static_cast<size_t>(parent)]};
        renumbered[i] = static_cast<int32_t>(kept.size());
        interned_.emplace(intern_key(f.pos, f.parent), renumbered[i]);
        kept.push_back(f);
    }
    for (Head& h : heads_)
        if (h.top >= 0) h.top = renumbered[static_cast<size_t>(h.top)];
    frames_ = std::move(kept);
    live_frames_ = frames_.size();
    ++collections_;
}

bool Matcher::complete() const {
    return std::any_of(heads_.begin(), heads_.end(), [](const Head& h) { return h.top < 0; });
}

bool Matcher::can_continue() const {
    return std::any_of(heads_.begin(), heads_.end(), [](const Head& h) { return h.top >= 0; });
}

}  // namespace rf::grammar
