// Text <-> token ids for a model, everything read from the GGUF metadata (tokenizer.ggml.*).
//
//   RF_ASSIGN_OR_RETURN(auto tok, Tokenizer::from_gguf(file));
//   std::vector<int32_t> ids = tok.encode("Hello", {.add_special = true, .parse_special = false});
//   std::string text = tok.decode(ids);
//
// A Tokenizer is immutable after loading: copies share the tables and may be used from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/reader.h"
#include "tokenizer/vocab.h"

namespace rf::tokenizer {

struct EncodeOptions {
    bool add_special = true;     // BOS/EOS (or CLS/SEP) as the vocabulary asks
    bool parse_special = false;  // control tokens written in the text ("<|im_start|>") become tokens
};

struct DecodeOptions {
    bool show_special = false;  // render control/unknown tokens as their text instead of hiding them
    // SentencePiece vocabularies add a space in front of text that starts a sequence or follows a
    // special token; drop it again so that decode(encode(s)) == s. Turn off when decoding a
    // continuation whose first piece's space is real.
    bool strip_space_prefix = true;
};

class Tokenizer {
public:
    static Result<Tokenizer> from_gguf(const gguf::File& file);
    // For vocabularies built in memory (tests); runs the same checks as from_gguf.
    static Result<Tokenizer> from_vocab(Vocab vocab);

    std::vector<int32_t> encode(std::string_view text, EncodeOptions options = {}) const;
    // Exact bytes of the tokens; ids outside the vocabulary are skipped. The result is not
    // necessarily valid UTF-8 (a sequence may be cut mid-character); see StreamDecoder.
    std::string decode(std::span<const int32_t> ids, DecodeOptions options = {}) const;

    int32_t n_vocab() const;
    VocabKind kind() const;
    const std::string& pre_tokenizer_name() const;
    const SpecialIds& special() const;
    bool add_bos() const;
    bool add_eos() const;

    // The token's text as stored in the vocabulary (e.g. "\u2581the", "Ġthe", "<0x0A>"); empty for
    // an id outside the vocabulary.
    const std::string& piece(int32_t id) const;
    // The bytes the token stands for when decoded (e.g. " the", "\n"); special tokens give their text.
    const std::string& token_bytes(int32_t id) const;
    TokenKind token_kind(int32_t id) const;
    bool is_special(int32_t id) const;            // control, unknown or user-defined
    bool is_end_of_generation(int32_t id) const;  // EOS, end of turn, end of message
    int32_t find_token(std::string_view text) const;  // exact piece text, kNoToken if absent

    const Vocab& vocab() const;

    struct State;  // internal (tokenizer_state.h)

private:
    explicit Tokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {}
    std::shared_ptr<const State> state_;

    friend class StreamDecoder;
};

}  // namespace rf::tokenizer
