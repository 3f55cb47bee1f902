#include "tokenizer/bpe.h"


#include "tokenizer/byte_level.h"
#include "tokenizer/merge_queue.h"
#include "tokenizer/word_cache.h"

namespace rf::tokenizer {
namespace {

struct Symbol {
    int32_t token;  // kNoToken for a byte the vocabulary lacks, or a merged-away symbol
    int32_t prev;   // index of the previous live symbol, -1 at the start
    int32_t next;   // index of the next live symbol, -1 at the end
};

const MergeRule* find_merge(const Vocab& vocab, int32_t left, int32_t right) {
    return vocab.merges.find(left, right);
}

// Reused across words on the same thread, so short words cost no allocation.
struct Scratch {
    std::vector<Symbol> symbols;
    MergeQueue queue;
};

class WordMerger {
public:
    WordMerger(const Vocab& vocab, Scratch& scratch) : vocab_(vocab), symbols_(scratch.symbols), queue_(scratch.queue) {}

    void run(std::string_view word, std::vector<int32_t>& out) {
        symbols_.clear();
        queue_.clear();
        const auto n = static_cast<int32_t>(word.size());
        for (int32_t i = 0; i < n; ++i) {
            symbols_.push_back({vocab_.byte_tokens[static_cast<uint8_t>(word[static_cast<size_t>(i)])], i - 1,
                                i + 1 < n ? i + 1 : -1});
        }
        for (int32_t i = 0; i + 1 < n; ++i) queue_pair(i);

        while (!queue_.empty()) {
            uint32_t rank;
            int32_t left_index = queue_.pop(rank);
            Symbol& left = symbols_[static_cast<size_t>(left_index)];
            if (left.token == kNoToken || left.next < 0) continue;
            Symbol& right = symbols_[static_cast<size_t>(left.next)];
            // Stale when either side changed since queuing: ranks are unique per rule, so the
            // pair is current exactly when it still has the queued rank.
            const MergeRule* rule = find_merge(vocab_, left.token, right.token);
            if (!rule || static_cast<uint32_t>(rule->rank) != rank) continue;

            left.token = rule->result;
            right.token = kNoToken;
            left.next = right.next;
            if (right.next >= 0) symbols_[static_cast<size_t>(right.next)].prev = left_index;
            queue_pair(left.prev);
            queue_pair(left_index);
        }

        // Bytes the vocabulary lacks (and merged-away symbols) are skipped.
        for (int32_t i = 0; i >= 0; i = symbols_[static_cast<size_t>(i)].next) {
            if (symbols_[static_cast<size_t>(i)].token != kNoToken) out.push_back(symbols_[static_cast<size_t>(i)].token);
        }
    }

private:
    void queue_pair(int32_t left) {
        if (left < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        if (l.next < 0) return;
        if (const MergeRule* rule = find_merge(vocab_, l.token, symbols_[static_cast<size_t>(l.next)].token)) {
            queue_.push(static_cast<uint32_t>(rule->rank), left);
        }
    }

    const Vocab& vocab_;
    std::vector<Symbol>& symbols_;
    MergeQueue& queue_;
};

}  // namespace

void bpe_encode_word(const Vocab& vocab, std::string_view word, bool whole_word_tokens,
                     std::vector<int32_t>& out) {
    if (word.empty()) return;
    if (word.size() > kMaxMergeBytes) {
        for (size_t at = 0; at < word.size(); at += kMaxMergeBytes) {
            bpe_encode_word(vocab, word.substr(at, kMaxMergeBytes), false, out);
        }
        return;
    }
    if (whole_word_tokens) {
        std::string encoded;
        for (char c : word) encoded += byte_level_chars()[static_cast<uint8_t>(c)];
        if (int32_t id = vocab.find(encoded); id != kNoToken) {
            out.push_back(id);
            return;
        }
    }
    if (word.size() == 1) {
        int32_t id = vocab.byte_tokens[static_cast<uint8_t>(word[0])];
        if (id != kNoToken) out.push_back(id);
        return;
    }
    thread_local WordCache cache;
    const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
    if (cacheable) {
        if (const std::vector<int32_t>* ids = cache.find(vocab, word)) {
            out.insert(out.end(), ids->begin(), ids->end());
            return;
        }
    }
    thread_local Scratch scratch;
    const size_t first = out.size();
    WordMerger(vocab, scratch).run(word, out);
    if (cacheable) cache.add(word, std::span(out).subspan(first));
}

}  // namespace rf::tokenizer
