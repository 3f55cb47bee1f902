#include "tokenizer/vocab.h"

#include <atomic>

#include <fmt/format.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/spm.h"

namespace rf::tokenizer {
namespace {

Result<VocabKind> parse_kind(const std::string& model) {
    if (model == "llama") return VocabKind::Spm;
    if (model == "gpt2") return VocabKind::Bpe;
    if (model == "bert") return VocabKind::WordPiece;
    return make_error("tokenizer.ggml.model '{}' is not supported (expected llama, gpt2 or bert)", model);
}

// Reads an optional token id; ids outside the vocabulary are treated as absent, as converters
// sometimes write placeholder ids for tokens the vocabulary does not have.
Status read_special(const gguf::File& file, std::string_view key, int32_t n_vocab, int32_t& id) {
    if (!file.has(key)) return ok_status();
    RF_ASSIGN_OR_RETURN(int64_t value, file.get_int(key));
    if (value >= 0 && value < n_vocab) id = static_cast<int32_t>(value);
    return ok_status();
}

// Chat models mark the end of a turn with a control token that older files do not name in
// metadata; these are the texts in common use.
int32_t guess_end_of_turn(const Vocab& vocab) {
    for (std::string_view text : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|EOT|>",
                                  "<|end_of_text|>", "<EOT>"}) {
        int32_t id = vocab.find(text);
        if (id != kNoToken && vocab.kind_of(id) != TokenKind::Normal) return id;
    }
    return kNoToken;
}

// llama.cpp (llama-vocab.cpp) decides by text which tokens end generation, and makes each of them a
// control token whatever type the file gives it: a converter that wrote one as user-defined or normal
// is taken to be wrong. This decides whether text such as "</s>" is matched without special parsing
// (user-defined tokens are, control tokens are not), so the same table and its exceptions apply here.
void mark_control_looking_tokens(Vocab& vocab) {
    auto make_kind = [&](std::string_view text, TokenKind kind) {
        auto it = vocab.token_to_id.find(text);
        if (it != vocab.token_to_id.end()) vocab.kinds[static_cast<size_t>(it->second)] = kind;
    };
    auto has = [&](std::string_view text) { return vocab.token_to_id.find(text) != vocab.token_to_id.end(); };
    for (std::string_view text :
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
          "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
          "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>"}) {
        int32_t id = vocab.find(text);
        if (id == kNoToken) continue;
        TokenKind kind = vocab.kind_of(id);
        if (kind == TokenKind::Normal || kind == TokenKind::UserDefined) make_kind(text, TokenKind::Control);
    }
    // gpt-oss: always matched and shown.
    for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
        make_kind(text, TokenKind::UserDefined);
    // o200k_harmony and solar-open: "<|end|>" does not end generation there.
    if (has("<|end|>") && ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>"))))
        make_kind("<|end|>", TokenKind::UserDefined);
    // gemma4 and paddleocr: "</s>" is ordinary text.
    if (has("<|tool_response>") && has("</s>")) make_kind("</s>", TokenKind::Normal);
}

void set_defaults(Vocab& vocab) {
    SpecialIds& s = vocab.special;
    switch (vocab.kind) {
        case VocabKind::Spm:
            // SentencePiece's fixed layout: <unk>, <s>, </s>.
            if (s.unk == kNoToken && vocab.valid(0)) s.unk = 0;
            if (s.bos == kNoToken && vocab.valid(1)) s.bos = 1;
            if (s.eos == kNoToken && vocab.valid(2)) s.eos = 2;
            break;
        case VocabKind::WordPiece:
            // BERT frames a sequence as [CLS] ... [SEP].
            if (s.bos == kNoToken) s.bos = s.cls;
            if (s.eos == kNoToken) s.eos = s.sep;
            if (s.unk == kNoToken) s.unk = vocab.find("[UNK]");
            break;
        case VocabKind::Bpe:
            break;
    }
}

}  // namespace

Status finish_vocab(Vocab& vocab, const std::vector<std::string>& merges) {
    static std::atomic<uint64_t> next_serial{1};
    vocab.serial = next_serial++;
    const size_t n = vocab.tokens.size();
    if (vocab.scores.empty()) vocab.scores.assign(n, 0.0f);
    if (vocab.kinds.empty()) vocab.kinds.assign(n, TokenKind::Normal);
    if (vocab.scores.size() != n || vocab.kinds.size() != n) {
        return make_error("tokenizer: {} tokens but {} scores and {} token types", n, vocab.scores.size(),
                          vocab.kinds.size());
    }
    if (n > static_cast<size_t>(INT32_MAX)) return make_error("tokenizer: {} tokens is too many", n);

    vocab.token_to_id.clear();
    vocab.token_to_id.reserve(n);
    // A duplicated text keeps its first id, so encoding is deterministic.
    for (size_t id = 0; id < n; ++id) vocab.token_to_id.emplace(vocab.tokens[id], static_cast<int32_t>(id));
    mark_control_looking_tokens(vocab);  // before anything that depends on the token types

    vocab.byte_tokens.fill(kNoToken);
    for (int byte = 0; byte < 256; ++byte) {
        std::string text = vocab.kind == VocabKind::Bpe ? byte_level_chars()[static_cast<size_t>(byte)]
                                                        : fmt::format("<0x{:02X}>", byte);
        vocab.byte_tokens[static_cast<size_t>(byte)] = vocab.find(text);
    }

    vocab.merges.clear();
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string& rule = merges[rank];
        // The separator is the first space after the first character (a pair never starts empty).
        size_t space = rule.find(' ', 1);
        if (space == std::string::npos) return make_error("tokenizer: merge {} '{}' has no space", rank, rule);
        std::string_view left(rule.data(), space);
        std::string_view right(rule.data() + space + 1, rule.size() - space - 1);
        int32_t left_id = vocab.find(left), right_id = vocab.find(right);
        int32_t result_id = vocab.find(std::string(left) + std::string(right));
        // A rule whose parts or result are not tokens can never yield a token; skip it.
        if (left_id == kNoToken || right_id == kNoToken || result_id == kNoToken) continue;
        vocab.merges.insert(left_id, right_id, MergeRule{static_cast<uint32_t>(rank), result_id});
    }
    if (vocab.kind == VocabKind::Spm) {
        vocab.spm_words_independent = spm_words_are_independent(vocab);
        build_spm_merges(vocab);
    }
    set_defaults(vocab);
    if (vocab.special.eot == kNoToken) vocab.special.eot = guess_end_of_turn(vocab);
    return ok_status();
}

Result<Vocab> load_vocab(const gguf::File& file) {
    Vocab vocab;
    RF_ASSIGN_OR_RETURN(std::string model, file.get_string("tokenizer.ggml.model"));
    RF_ASSIGN_OR_RETURN(vocab.kind, parse_kind(model));
    RF_ASSIGN_OR_RETURN(vocab.pre, file.get_string_or("tokenizer.ggml.pre", "default"));
    RF_ASSIGN_OR_RETURN(vocab.tokens, file.get_string_array("tokenizer.ggml.tokens"));
    if (vocab.tokens.empty()) return make_error("{}: tokenizer.ggml.tokens is empty", file.path());
    // Checked before the narrowing below, which would otherwise wrap (finish_vocab checks too late).
    if (vocab.tokens.size() > static_cast<size_t>(INT32_MAX))
        return make_error("{}: tokenizer.ggml.tokens holds {} tokens, more than int32 ids can name", file.path(),
                          vocab.tokens.size());
    const auto n_vocab = static_cast<int32_t>(vocab.tokens.size());

    if (file.has("tokenizer.ggml.scores")) {
        RF_ASSIGN_OR_RETURN(vocab.scores, file.get_f32_array("tokenizer.ggml.scores"));
    }
    if (file.has("tokenizer.ggml.token_type")) {
        RF_ASSIGN_OR_RETURN(std::vector<int32_t> types, file.get_i32_array("tokenizer.ggml.token_type"));
        vocab.kinds.reserve(types.size());
        for (size_t i = 0; i < types.size(); ++i) {
            if (types[i] < 1 || types[i] > 6) {
                return make_error("{}: tokenizer.ggml.token_type[{}] = {} is not a known token type", file.path(),
                                  i, types[i]);
            }
            vocab.kinds.push_back(static_cast<TokenKind>(types[i]));
        }
    }
    std::vector<std::string> merges;
    if (vocab.kind == VocabKind::Bpe) {
        RF_ASSIGN_OR_RETURN(merges, file.get_string_array("tokenizer.ggml.merges"));
    }

    SpecialIds& s = vocab.special;
    RF_TRY(read_special(file, "tokenizer.ggml.bos_token_id", n_vocab, s.bos));
    RF_TRY(read_special(file, "tokenizer.ggml.eos_token_id", n_vocab, s.eos));
    RF_TRY(read_special(file, "tokenizer.ggml.unknown_token_id", n_vocab, s.unk));
    RF_TRY(read_special(file, "tokenizer.ggml.seperator_token_id", n_vocab, s.sep));  // spelled so in GGUF
    RF_TRY(read_special(file, "tokenizer.ggml.separator_token_id", n_vocab, s.sep));
    RF_TRY(read_special(file, "tokenizer.ggml.padding_token_id", n_vocab, s.pad));
    RF_TRY(read_special(file, "tokenizer.ggml.cls_token_id", n_vocab, s.cls));
    RF_TRY(read_special(file, "tokenizer.ggml.mask_token_id", n_vocab, s.mask));
    RF_TRY(read_special(file, "tokenizer.ggml.eot_token_id", n_vocab, s.eot));
    RF_TRY(read_special(file, "tokenizer.ggml.eom_token_id", n_vocab, s.eom));

    const bool is_wordpiece = vocab.kind == VocabKind::WordPiece;
    RF_ASSIGN_OR_RETURN(vocab.add_bos, file.get_bool_or("tokenizer.ggml.add_bos_token",
                                                        vocab.kind != VocabKind::Bpe));
    RF_ASSIGN_OR_RETURN(vocab.add_eos, file.get_bool_or("tokenizer.ggml.add_eos_token", is_wordpiece));
    RF_ASSIGN_OR_RETURN(vocab.add_space_prefix, file.get_bool_or("tokenizer.ggml.add_space_prefix",
                                                                 vocab.kind == VocabKind::Spm));

    Status finished = finish_vocab(vocab, merges);
    if (!finished.ok()) return make_error("{}: {}", file.path(), finished.error().message);
    return vocab;
}

}  // namespace rf::tokenizer
