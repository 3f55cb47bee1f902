// A tokenizer vocabulary as stored in GGUF metadata (tokenizer.ggml.*), with the lookup tables the
// encoders need built once at load time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "gguf/reader.h"
#include "tokenizer/merge_table.h"

namespace rf::tokenizer {

inline constexpr int32_t kNoToken = -1;

// tokenizer.ggml.model: llama = SentencePiece-style, gpt2 = byte-level BPE, bert = WordPiece.
enum class VocabKind { Spm, Bpe, WordPiece };

// tokenizer.ggml.token_type values.
enum class TokenKind : uint8_t {
    Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct SpecialIds {
    int32_t bos = kNoToken;
    int32_t eos = kNoToken;
    int32_t unk = kNoToken;
    int32_t sep = kNoToken;
    int32_t pad = kNoToken;
    int32_t cls = kNoToken;
    int32_t mask = kNoToken;
    int32_t eot = kNoToken;  // end of turn (chat models)
    int32_t eom = kNoToken;  // end of message (tool calls)
};

// Hash that lets unordered_map<std::string, ...> be searched with a string_view without copying.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
    VocabKind kind = VocabKind::Spm;
    std::string pre;  // tokenizer.ggml.pre ("default" when absent); only byte-level BPE uses it

    std::vector<std::string> tokens;  // token text as stored (SPM: spaces as U+2581; BPE: byte-level)
    std::vector<float> scores;        // SPM merge priority (higher merges first)
    std::vector<TokenKind> kinds;
    TokenMap token_to_id;
    MergeTable merges;                       // BPE: tokenizer.ggml.merges; SPM: splits of text tokens
    std::array<int32_t, 256> byte_tokens{};  // token for each raw byte, kNoToken if none

    // Distinct for every finish_vocab call, so per-thread caches can tell vocabularies apart
    // (a finished Vocab must not be modified).
    uint64_t serial = 0;

    SpecialIds special;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;  // SPM: text starts with a space before escaping
    // SPM: no token has U+2581 after another character (other than in a run of U+2581), so a
    // merge never crosses the start of a word and words can be merged one at a time.
    bool spm_words_independent = false;

    int32_t size() const { return static_cast<int32_t>(tokens.size()); }
    bool valid(int32_t id) const { return id >= 0 && id < size(); }
    TokenKind kind_of(int32_t id) const { return kinds[static_cast<size_t>(id)]; }
    // Tokens the encoders may produce from ordinary text.
    bool is_text_token(int32_t id) const {
        TokenKind k = kind_of(id);
        return k == TokenKind::Normal || k == TokenKind::UserDefined;
    }
    int32_t find(std::string_view text) const {
        auto it = token_to_id.find(text);
        return it == token_to_id.end() ? kNoToken : it->second;
    }
};

// Reads tokenizer.ggml.* from `file`; a missing or inconsistent field is an Error naming it.
Result<Vocab> load_vocab(const gguf::File& file);

// Builds the derived tables (token_to_id, byte_tokens, merges from "a b" strings) of a Vocab whose
// kind, tokens, scores and kinds are filled in. Exposed so tests can build small vocabularies.
Status finish_vocab(Vocab& vocab, const std::vector<std::string>& merges);

}  // namespace rf::tokenizer
