// For the grammar fuzz targets: a small vocabulary (every byte, some multi-byte pieces of JSON
// and text, and an end token) and a walk through a grammar driven by the fuzzer's bytes, which
// checks the token mask against the single-token check at every step: a token the mask allows
// must be accepted, and one it refuses must be refused.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/token_constraint.h"

namespace rf::fuzz {

inline std::shared_ptr<const grammar::TokenTrie> small_vocabulary() {
    static const std::shared_ptr<const grammar::TokenTrie> trie = [] {
        std::vector<std::string> texts = {""};  // token 0: the end token
        for (int b = 0; b < 256; ++b) texts.emplace_back(1, static_cast<char>(b));
        for (const char* piece : {"{\"", "\":", "\": ", "\",", "\"}", "true", "false", "null", "ab", "  ", "\n  ", "12",
                                  "-0.5", "e+", "\\u00", "\\\"", "é", "\xF0\x9F\x98\x80", "}]", "[{"})
            texts.emplace_back(piece);
        std::vector<bool> usable(texts.size(), true);
        usable[0] = false;
        return std::make_shared<const grammar::TokenTrie>(std::move(texts), usable);
    }();
    return trie;
}

[[noreturn]] inline void fail(const char* what, int32_t token) {
    std::fprintf(stderr, "grammar walk: %s (token %d)\n", what, token);
    std::abort();
}

// A walk's bounds. A step checks every token of the vocabulary against the grammar state, whose
// size an ambiguous grammar can keep near the mask budget for the whole walk; the fuzzer's build
// is ~30x slower than a release build, and with these a walk stays within ~2 s.
inline constexpr size_t kMaxWalk = 256;
inline constexpr uint64_t kWalkMaskWork = uint64_t{1} << 14;

// Each byte of `steps` picks one of the tokens the mask allows; returns the text written.
inline std::string walk(std::shared_ptr<const grammar::Grammar> grammar, std::string_view steps) {
    const auto trie = small_vocabulary();
    grammar::TokenConstraint c(std::move(grammar), trie, {0}, kWalkMaskWork);
    std::string text;
    for (unsigned char step : steps.substr(0, kMaxWalk)) {
        const std::vector<uint64_t> mask = c.mask();
        if (!c.error().empty()) break;  // too ambiguous to follow: the request would fail
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < trie->n_vocab(); ++t) {
            const bool in_mask = (mask[static_cast<size_t>(t) / 64] >> (t % 64)) & 1;
            if (in_mask != c.allows(t)) fail("the mask and the single-token check disagree", t);
            if (in_mask) allowed.push_back(t);
        }
        if (allowed.empty() || c.finished()) break;
        const int32_t t = allowed[step % allowed.size()];
        if (t == 0) break;  // the end token: the text is complete
        if (!c.accept(t).ok()) {
            if (!c.error().empty()) break;  // the state outgrew its bound: the request would fail
            fail("an allowed token was refused", t);
        }
        text += trie->text(t);
    }
    return text;
}

}  // namespace rf::fuzz
