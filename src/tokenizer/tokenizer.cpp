#include "tokenizer/tokenizer.h"

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_state.h"
#include "tokenizer/wordpiece.h"

namespace rf::tokenizer {
namespace {

const std::string kEmpty;

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
    std::string out;
    size_t pos = 0;
    while (true) {
        size_t hit = text.find(from, pos);
        if (hit == std::string_view::npos) break;
        out.append(text.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(text.substr(pos));
    return out;
}

// "<0x41>" -> 0x41; -1 when the text is not a byte token.
int parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    int value = 0;
    for (char c : text.substr(3, 2)) {
        value *= 16;
        if (c >= '0' && c <= '9') value += c - '0';
        else if (c >= 'A' && c <= 'F') value += c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') value += c - 'a' + 10;
        else return -1;
    }
    return value;
}

std::string bytes_of(const Vocab& vocab, int32_t id) {
    const std::string& text = vocab.tokens[static_cast<size_t>(id)];
    TokenKind kind = vocab.kind_of(id);
    // Special and user-defined tokens are stored as the literal text they stand for.
    if (kind == TokenKind::Control || kind == TokenKind::Unknown || kind == TokenKind::UserDefined) return text;
    if (kind == TokenKind::Byte) {
        int byte = parse_byte_token(text);
        if (byte >= 0) return std::string(1, static_cast<char>(byte));
    }
    if (vocab.kind == VocabKind::Bpe) return decode_byte_level(text);
    return replace_all(text, "\xE2\x96\x81", " ");
}

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    RF_ASSIGN_OR_RETURN(Vocab vocab, load_vocab(file));
    auto tokenizer = from_vocab(std::move(vocab));
    if (!tokenizer.ok()) return make_error("{}: {}", file.path(), tokenizer.error().message);
    return tokenizer;
}

Result<Tokenizer> Tokenizer::from_vocab(Vocab vocab) {
    if (vocab.token_to_id.size() == 0 || vocab.kinds.size() != vocab.tokens.size() ||
        vocab.scores.size() != vocab.tokens.size()) {
        return make_error("tokenizer: vocabulary tables are not built (call finish_vocab)");
    }
    auto state = std::make_shared<State>();
    if (vocab.kind == VocabKind::Bpe) {
        RF_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::create(vocab.pre));
        state->pre_tokenizer = std::move(pre);
    }
    state->strips_leading_space = vocab.add_space_prefix || vocab.kind == VocabKind::WordPiece;
    state->token_bytes.reserve(vocab.tokens.size());
    for (int32_t id = 0; id < vocab.size(); ++id) state->token_bytes.push_back(bytes_of(vocab, id));
    state->specials = SpecialTokenMatcher(vocab);
    state->vocab = std::move(vocab);
    return Tokenizer(std::move(state));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
    const Vocab& vocab = state_->vocab;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (options.add_special && vocab.add_bos && vocab.special.bos != kNoToken) out.push_back(vocab.special.bos);

    std::vector<Fragment> fragments;
    state_->specials.split(text, options.parse_special, fragments);
    std::vector<std::string_view> words;
    // SentencePiece puts a space in front of text that starts the input or follows a special token.
    bool after_special = true;
    for (const Fragment& fragment : fragments) {
        if (fragment.token != kNoToken) {
            out.push_back(fragment.token);
            after_special = true;
            continue;
        }
        switch (vocab.kind) {
            case VocabKind::Spm: {
                std::string escaped = escape_spaces(vocab.add_space_prefix && after_special
                                                        ? " " + std::string(fragment.text)
                                                        : std::string(fragment.text));
                spm_encode(vocab, escaped, out);
                break;
            }
            case VocabKind::Bpe:
                words.clear();
                state_->pre_tokenizer->split(fragment.text, words);
                for (std::string_view word : words) {
                    bpe_encode_word(vocab, word, state_->pre_tokenizer->whole_word_tokens(), out);
                }
                break;
            case VocabKind::WordPiece:
                wordpiece_encode(vocab, fragment.text, out);
                break;
        }
        after_special = false;
    }
    if (options.add_special && vocab.add_eos && vocab.special.eos != kNoToken) out.push_back(vocab.special.eos);
    return out;
}

int32_t Tokenizer::n_vocab() const { return state_->vocab.size(); }
VocabKind Tokenizer::kind() const { return state_->vocab.kind; }
const std::string& Tokenizer::pre_tokenizer_name() const { return state_->vocab.pre; }
const SpecialIds& Tokenizer::special() const { return state_->vocab.special; }
bool Tokenizer::add_bos() const { return state_->vocab.add_bos; }
bool Tokenizer::add_eos() const { return state_->vocab.add_eos; }
const Vocab& Tokenizer::vocab() const { return state_->vocab; }

const std::string& Tokenizer::piece(int32_t id) const {
    return state_->vocab.valid(id) ? state_->vocab.tokens[static_cast<size_t>(id)] : kEmpty;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
    return state_->vocab.valid(id) ? state_->token_bytes[static_cast<size_t>(id)] : kEmpty;
}

TokenKind Tokenizer::token_kind(int32_t id) const {
    return state_->vocab.valid(id) ? state_->vocab.kind_of(id) : TokenKind::Unused;
}

bool Tokenizer::is_special(int32_t id) const {
    if (!state_->vocab.valid(id)) return false;
    TokenKind kind = state_->vocab.kind_of(id);
    return kind == TokenKind::Control || kind == TokenKind::Unknown || kind == TokenKind::UserDefined;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
    const SpecialIds& s = state_->vocab.special;
    return id != kNoToken && (id == s.eos || id == s.eot || id == s.eom);
}

int32_t Tokenizer::find_token(std::string_view text) const { return state_->vocab.find(text); }

}  // namespace rf::tokenizer
