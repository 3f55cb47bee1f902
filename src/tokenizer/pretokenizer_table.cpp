#include "tokenizer/pretokenizer_table.h"

#include <string>
#include <utility>

namespace rf::tokenizer {
namespace {

// The published split expressions of the tokenizers these vocabularies come from.
// GPT-2's contractions, letters, numbers, other symbols, and whitespace not followed by text.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 family: case-insensitive contractions, a letter run may take one leading non-letter,
// numbers in groups of up to three, newlines kept together.
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: as Llama 3 but every digit on its own.
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Tekken: splits camel case (an upper-case run stays with the lower-case run after it).
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: newlines alone, Latin/Greek/Cyrillic... letter runs (an explicit list of ranges),
// ASCII and full-width punctuation runs, trailing whitespace, CJK runs, digit runs.
constexpr std::string_view kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
    "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
    "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
    "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
    "\U0001e900-\U0001e943]+";
constexpr std::string_view kDeepseekLlmPunct = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+";
// CJK ideographs, the U+0800..U+4E00 block run and Hangul, as the DeepSeek tokenizers list them.
constexpr std::string_view kCjkRuns = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";

// Falcon / the catch-all default: punctuation runs first, then GPT-2 style words, then numbers.
constexpr std::string_view kGpt2NoTrailing =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// BLOOM-style: a word is anything up to whitespace or sentence punctuation.
constexpr std::string_view kBloom = R"( ?[^(\s|.,!?…。，、।۔،)]+)";

using Entry = std::pair<std::vector<std::string_view>, PreTokenizerSpec>;

const std::vector<Entry>& table() {
    static const std::vector<Entry> entries = {
        {{"default"},
         {{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2NoTrailing, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false}},
        {{"gpt-2", "gpt2", "gpt-neox", "mpt", "olmo", "jais", "phi-2", "stablelm"}, {{kGpt2}, false}},
        {{"llama3", "llama-bpe", "llama-v3", "dbrx", "smaug-bpe", "chatglm-bpe"}, {{kLlama3}, true}},
        {{"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"}, {{kQwen2}, false}},
        {{"deepseek-llm"},
         {{"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kCjkRuns, R"(\p{N}+)"}, false}},
        {{"deepseek-coder"}, {{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkRuns, R"(\p{N})"}, false}},
        {{"falcon"}, {{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2NoTrailing, "[0-9][0-9][0-9]"}, false}},
        {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
         {{R"(\p{N})", kGpt2NoTrailing}, false}},
        {{"poro-chat", "bloom", "gpt3-finnish"}, {{kBloom}, false}},
        {{"viking"}, {{kBloom, R"(\p{N})"}, false}},
        {{"tekken"}, {{kTekken}, true}},
    };
    return entries;
}

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
    for (const Entry& entry : table()) {
        for (std::string_view alias : entry.first) {
            if (alias == name) return &entry.second;
        }
    }
    return nullptr;
}

std::vector<std::string_view> pre_tokenizer_names() {
    std::vector<std::string_view> names;
    for (const Entry& entry : table()) names.insert(names.end(), entry.first.begin(), entry.first.end());
    return names;
}

}  // namespace rf::tokenizer
