#include "tokenizer/spm.h"

#include <string>

#include "tokenizer/merge_queue.h"
#include "tokenizer/utf8_codec.h"
#include "tokenizer/word_cache.h"

namespace rf::tokenizer {
namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";

struct Symbol {
    uint32_t start;  // byte range of the symbol in the text
    uint32_t length;
    int32_t token;  // kNoToken for a character that is no text token (byte fallback)
    int32_t prev;
    int32_t next;
};

// Reused across words on the same thread, so short words cost no allocation.
struct Scratch {
    std::vector<Symbol> symbols;
    MergeQueue queue;  // highest score first, then leftmost
};

int32_t text_token(const Vocab& vocab, std::string_view text) {
    int32_t id = vocab.find(text);
    return id != kNoToken && vocab.is_text_token(id) ? id : kNoToken;
}

class Merger {
public:
    Merger(const Vocab& vocab, std::string_view text, Scratch& scratch)
        : vocab_(vocab), text_(text), symbols_(scratch.symbols), queue_(scratch.queue) {
        symbols_.clear();
        queue_.clear();
    }

    void run(std::vector<int32_t>& out) {
        for (size_t pos = 0; pos < text_.size();) {
            auto len = static_cast<uint32_t>(char_length(text_.substr(pos)));
            auto index = static_cast<int32_t>(symbols_.size());
            symbols_.push_back({static_cast<uint32_t>(pos), len, text_token(vocab_, text_.substr(pos, len)),
                                index - 1, -1});
            if (index > 0) symbols_[static_cast<size_t>(index - 1)].next = index;
            pos += len;
        }
        for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols_.size()); ++i) queue_pair(i);

        while (!queue_.empty()) {
            uint32_t priority;
            int32_t left_index = queue_.pop(priority);
            Symbol& left = symbols_[static_cast<size_t>(left_index)];
            if (left.length == 0 || left.next < 0) continue;
            Symbol& right = symbols_[static_cast<size_t>(left.next)];
            // Stale when a side changed since queuing (the changed pair was queued on its own).
            MergeRule rule = pair_rule(left, right);
            if (rule.result == kNoToken || rule.rank != priority) continue;

            left.length += right.length;
            left.token = rule.result;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols_[static_cast<size_t>(right.next)].prev = left_index;
            queue_pair(left.prev);
            queue_pair(left_index);
        }

        for (int32_t i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[static_cast<size_t>(i)].next) {
            emit(symbols_[static_cast<size_t>(i)], out);
        }
    }

private:
    // The token two adjacent symbols merge into, with its priority; result kNoToken if none.
    MergeRule pair_rule(const Symbol& l, const Symbol& r) const {
        if (l.token != kNoToken && r.token != kNoToken) {
            const MergeRule* rule = vocab_.merges.find(l.token, r.token);
            return rule ? *rule : MergeRule{0, kNoToken};
        }
        // A character outside the vocabulary may still start or end a token: look the text up.
        int32_t id = text_token(vocab_, text_.substr(l.start, l.length + r.length));
        if (id == kNoToken) return {0, kNoToken};
        return {priority_of_score(vocab_.scores[static_cast<size_t>(id)]), id};
    }

    void queue_pair(int32_t left) {
        if (left < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        if (l.next < 0) return;
        MergeRule rule = pair_rule(l, symbols_[static_cast<size_t>(l.next)]);
        if (rule.result != kNoToken) queue_.push(rule.rank, left);
    }

    void emit(const Symbol& s, std::vector<int32_t>& out) const {
        if (s.token != kNoToken) {
            out.push_back(s.token);
            return;
        }
        for (char c : text_.substr(s.start, s.length)) {
            int32_t id = vocab_.byte_tokens[static_cast<uint8_t>(c)];
            if (id == kNoToken) id = vocab_.special.unk;
            if (id != kNoToken) out.push_back(id);
        }
    }

    const Vocab& vocab_;
    std::string_view text_;
    std::vector<Symbol>& symbols_;
    MergeQueue& queue_;
};

}  // namespace

std::string escape_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (char c : text) {
        if (c == ' ') {
            out += "\xE2\x96\x81";
        } else {
            out += c;
        }
    }
    return out;
}

void build_spm_merges(Vocab& vocab) {
    vocab.merges.clear();
    for (int32_t id = 0; id < vocab.size(); ++id) {
        if (!vocab.is_text_token(id)) continue;
        std::string_view text = vocab.tokens[static_cast<size_t>(id)];
        if (vocab.find(text) != id) continue;  // a duplicate text: the first id is the token
        const uint32_t priority = priority_of_score(vocab.scores[static_cast<size_t>(id)]);
        for (size_t split = char_length(text); split < text.size(); split += char_length(text.substr(split))) {
            int32_t left = text_token(vocab, text.substr(0, split));
            int32_t right = text_token(vocab, text.substr(split));
            if (left != kNoToken && right != kNoToken) vocab.merges.insert(left, right, {priority, id});
        }
    }
}

bool spm_words_are_independent(const Vocab& vocab) {
    for (int32_t id = 0; id < vocab.size(); ++id) {
        if (!vocab.is_text_token(id)) continue;
        std::string_view text = vocab.tokens[static_cast<size_t>(id)];
        for (size_t at = text.find(kEscapedSpace, 1); at != std::string_view::npos;
             at = text.find(kEscapedSpace, at + 1)) {
            if (!text.substr(0, at).ends_with(kEscapedSpace)) return false;
        }
    }
    return true;
}

namespace {

void merge_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out) {
    thread_local WordCache cache;
    const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
    if (cacheable) {
        if (const std::vector<int32_t>* ids = cache.find(vocab, word)) {
            out.insert(out.end(), ids->begin(), ids->end());
            return;
        }
    }
    const size_t first = out.size();
    thread_local Scratch scratch;
    for (size_t at = 0; at < word.size(); at += kMaxMergeBytes) {
        Merger(vocab, word.substr(at, kMaxMergeBytes), scratch).run(out);
    }
    if (cacheable) cache.add(word, std::span(out).subspan(first));
}

}  // namespace

void spm_encode(const Vocab& vocab, std::string_view escaped_text, std::vector<int32_t>& out) {
    if (escaped_text.empty()) return;
    if (!vocab.spm_words_independent) {
        merge_word(vocab, escaped_text, out);
        return;
    }
    // Words start at a U+2581 that follows another character; a run of U+2581 stays together.
    size_t word_start = 0;
    for (size_t at = escaped_text.find(kEscapedSpace, 1); at != std::string_view::npos;
         at = escaped_text.find(kEscapedSpace, at + 1)) {
        if (escaped_text.substr(0, at).ends_with(kEscapedSpace)) continue;
        merge_word(vocab, escaped_text.substr(word_start, at - word_start), out);
        word_start = at;
    }
    merge_word(vocab, escaped_text.substr(word_start), out);
}

}  // namespace rf::tokenizer
