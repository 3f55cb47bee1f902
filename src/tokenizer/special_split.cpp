#include "tokenizer/special_split.h"

#include <algorithm>

namespace rf::tokenizer {

SpecialTokenMatcher::SpecialTokenMatcher(const Vocab& vocab) {
    for (int32_t id = 0; id < vocab.size(); ++id) {
        TokenKind kind = vocab.kind_of(id);
        if (kind != TokenKind::UserDefined && kind != TokenKind::Control && kind != TokenKind::Unknown) continue;
        const std::string& text = vocab.tokens[static_cast<size_t>(id)];
        if (text.empty()) continue;
        by_first_byte_[static_cast<uint8_t>(text[0])].push_back({text, id, kind == TokenKind::UserDefined});
    }
    for (auto& bucket : by_first_byte_) {
        std::stable_sort(bucket.begin(), bucket.end(),
                         [](const Candidate& a, const Candidate& b) { return a.text.size() > b.text.size(); });
    }
}

void SpecialTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
    size_t raw_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        const Candidate* found = nullptr;
        for (const Candidate& c : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
            if ((c.always || parse_special) && text.compare(pos, c.text.size(), c.text) == 0) {
                found = &c;
                break;
            }
        }
        if (!found) {
            ++pos;
            continue;
        }
        if (pos > raw_start) out.push_back({text.substr(raw_start, pos - raw_start), kNoToken});
        out.push_back({{}, found->id});
        pos += found->text.size();
        raw_start = pos;
    }
    if (raw_start < text.size()) out.push_back({text.substr(raw_start), kNoToken});
}

}  // namespace rf::tokenizer
