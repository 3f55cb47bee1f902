#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "tokenizer/pretokenizer_table.h"
#include "tokenizer/utf8_codec.h"

namespace rf::tokenizer {

struct PreTokenizer::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

namespace {

// Per-thread match state: match data sized for any pattern here, and a JIT stack large enough
// for very long words (the default machine-stack budget is only 32 KiB).
struct ThreadScratch {
    pcre2_match_data* data = pcre2_match_data_create(4, nullptr);
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    ThreadScratch() {
        if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~ThreadScratch() {
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(stack);
        pcre2_match_data_free(data);
    }
};

ThreadScratch& scratch() {
    thread_local ThreadScratch instance;
    return instance;
}

// Splits `piece` at the matches of `code`, keeping matches and the text between them.
void split_piece(const pcre2_code* code, std::string_view piece, std::vector<std::string_view>& out) {
    ThreadScratch& s = scratch();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
    size_t start = 0, last = 0;
    while (start < piece.size()) {
        int rc = pcre2_match(code, subject, piece.size(), start, 0, s.data, s.context);
        if (rc < 0) break;  // no further match (or a matching limit): the rest stays one piece
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
        size_t begin = ovector[0], end = ovector[1];
        if (end <= begin) {  // an empty match splits nothing; step over one character
            start = begin + char_length(piece.substr(begin));
            continue;
        }
        if (begin > last) out.push_back(piece.substr(last, begin - last));
        out.push_back(piece.substr(begin, end - begin));
        last = start = end;
    }
    if (last < piece.size()) out.push_back(piece.substr(last));
}

}  // namespace

Result<PreTokenizer> PreTokenizer::from_patterns(const std::vector<std::string_view>& patterns,
                                                 bool whole_word_tokens) {
    PreTokenizer result;
    result.whole_word_tokens_ = whole_word_tokens;
    for (std::string_view pattern : patterns) {
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                         &error_offset, nullptr);
        if (!code) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(error_code, message, sizeof message);
            return make_error("pre-tokenizer pattern '{}' does not compile at offset {}: {}", pattern,
                              error_offset, reinterpret_cast<const char*>(message));
        }
        auto compiled = std::make_shared<Compiled>();
        compiled->code = code;
        // JIT is an optimisation only: when unavailable the interpreter gives the same matches.
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        result.patterns_.push_back(std::move(compiled));
    }
    return result;
}

Result<PreTokenizer> PreTokenizer::create(std::string_view name) {
    const PreTokenizerSpec* spec = find_pre_tokenizer(name);
    if (!spec) {
        std::string known;
        for (std::string_view n : pre_tokenizer_names()) known += (known.empty() ? "" : ", ") + std::string(n);
        return make_error("tokenizer.ggml.pre '{}' is not a known pre-tokenizer (known: {})", name, known);
    }
    return from_patterns(spec->patterns, spec->whole_word_tokens);
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
    if (text.empty()) return;
    std::vector<std::string_view> current{text}, next;
    for (const auto& pattern : patterns_) {
        next.clear();
        for (std::string_view piece : current) split_piece(pattern->code, piece, next);
        current.swap(next);
    }
    words.insert(words.end(), current.begin(), current.end());
}

}  // namespace rf::tokenizer
