// Matching text against a Grammar, one byte at a time. The state is a set of stacks (one per way
// the text so far can continue); a stack is a chain of frames, each frame the next element to match
// in one rule's alternative, the frame below it where that rule's caller goes on. Stacks share their
// lower frames, so advancing one costs a frame or two, not a copy.
//
// Code points are matched from their UTF-8 bytes: a stack in the middle of a character keeps the
// bits read so far, and a lead byte is taken only when some character it can start is in the set.
// Token texts that end inside a character (byte tokens) therefore match like any other text.
//
//   Matcher m(grammar);
//   if (!m.accept("{\"a\":")) ...;   // the state is unchanged when the text does not fit
//   m.complete();                    // is the text so far a whole sentence?
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace rf::grammar {

struct Frame {
    uint32_t pos = 0;     // element index in Grammar::elements (always a Chars element at a stack's top)
    int32_t parent = -1;  // the frame below, -1 at the bottom
};

// One stack of the state: its top frame (-1: the grammar is matched completely) and, when it is in
// the middle of a character, that character's bits so far and how many bytes it still needs.
struct Head {
    int32_t top = -1;
    uint32_t partial = 0;
    uint8_t need = 0;    // continuation bytes still to come
    uint8_t length = 0;  // bytes of the character being read
    bool operator==(const Head&) const = default;
};

// Heads one step may produce at most; beyond it the rest are dropped, which can only reject text
// (never accept text the grammar does not allow). Only pathologically ambiguous grammars get there.
inline constexpr size_t kMaxHeads = 4096;
// Frames the expansions of one step (or of the start) may visit at most, for the same reason.
inline constexpr size_t kMaxExpansions = 16 * kMaxHeads;

class Matcher {
public:
    explicit Matcher(std::shared_ptr<const Grammar> grammar);

    // Advances by `bytes`; false (state unchanged) when the grammar does not allow them.
    bool accept(std::string_view bytes);
    // The text so far matches the whole grammar.
    bool complete() const;
    // Some longer text would still match.
    bool can_continue() const;

    // For token masks: `in` advanced by one byte into `out`, without touching the state. The
    // frames this makes are temporary: take mark() before and rewind() to it after.
    void step(std::span<const Head> in, uint8_t byte, std::vector<Head>& out);
    const std::vector<Head>& heads() const { return heads_; }
    size_t mark() const { return frames_.size(); }
    void rewind(size_t mark) { frames_.resize(mark); }

    const Grammar& grammar() const { return *grammar_; }
    // Heads advanced and frames expanded so far: the matcher's cost, for budgets on it.
    uint64_t work() const { return work_; }
    // How often accept() has dropped the frames no stack reaches any more (which renumbers the
    // frames, so heads kept from before mean something else now).
    uint64_t collections() const { return collections_; }
    // Frames the state's stacks held at the last collection.
    size_t live_frames() const { return live_frames_; }

private:
    int32_t push(uint32_t pos, int32_t parent);
    // The frame for element `pos` of the alternative continuing at `parent`; `parent` itself when
    // `pos` ends the alternative (so right recursion does not grow the stack).
    int32_t next_frame(uint32_t pos, int32_t parent) {
        return grammar_->elements[pos].kind == Element::Kind::End ? parent : push(pos, parent);
    }
    // Adds the heads `frame` stands for: itself when its element is a character set, the start of
    // each alternative when it refers to a rule.
    void expand(int32_t frame, std::vector<Head>& out);
    void dedupe(std::vector<Head>& heads) const;
    // Keeps only the frames the state's stacks reach, renumbered in order.
    void collect_frames();

    std::shared_ptr<const Grammar> grammar_;
    std::vector<Frame> frames_;
    // Frames of the state are interned (equal stacks share one top frame, so repeated states are
    // recognisable and duplicates collapse); temporary frames are not.
    std::unordered_map<uint64_t, int32_t> interned_;
    bool interning_ = false;
    std::vector<Head> heads_, byte_in_, byte_out_;
    std::vector<int32_t> pending_;  // expand()'s work list
    size_t expansions_left_ = 0;    // of kMaxExpansions, in this step
    uint64_t work_ = 0;
    uint64_t collections_ = 0;
    size_t live_frames_ = 0;  // frames kept by the last collection
};

}  // namespace rf::grammar
