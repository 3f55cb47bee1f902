#include "template/text.h"

#include <algorithm>

#include "core/utf8.h"

namespace rf::tmpl::text {

namespace {

uint32_t decode(const std::string& cp) {
    auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(cp[i])); };
    switch (cp.size()) {
        case 1: return b(0);
        case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        case 4: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
        default: return 0;
    }
}

std::string encode(uint32_t c) {
    std::string out;
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
    return out;
}

bool is_space_cp(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

// Case mapping for the alphabets chat templates meet in practice: ASCII, Latin-1, Greek, Cyrillic.
uint32_t to_upper_cp(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

uint32_t to_lower_cp(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

bool is_cased(uint32_t c) { return to_upper_cp(c) != c || to_lower_cp(c) != c; }

template <typename F>
std::string map_cps(const std::string& s, F f) {
    std::string out;
    out.reserve(s.size());
    for (const std::string& cp : code_points(s)) {
        if (cp.size() == 1 && static_cast<uint8_t>(cp[0]) >= 0x80) out += cp;  // stray byte: keep
        else out += encode(f(decode(cp)));
    }
    return out;
}

}  // namespace

std::vector<std::string> code_points(const std::string& s) {
    std::vector<std::string> out;
    std::string_view rest(s);
    while (!rest.empty()) {
        size_t len = std::max<size_t>(1, rf::utf8_sequence_length(rest));
        out.emplace_back(rest.substr(0, len));
        rest.remove_prefix(len);
    }
    return out;
}

size_t length(const std::string& s) {
    size_t n = 0;
    std::string_view rest(s);
    while (!rest.empty()) {
        rest.remove_prefix(std::max<size_t>(1, rf::utf8_sequence_length(rest)));
        ++n;
    }
    return n;
}

std::string strip(const std::string& s, const std::optional<std::string>& chars, Side side) {
    std::vector<std::string> cps = code_points(s);
    std::vector<std::string> set;
    if (chars) set = code_points(*chars);
    auto strippable = [&](const std::string& cp) {
        if (chars) return std::find(set.begin(), set.end(), cp) != set.end();
        return is_space_cp(decode(cp));
    };
    size_t begin = 0, end = cps.size();
    if (side != Side::Right)
        while (begin < end && strippable(cps[begin])) ++begin;
    if (side != Side::Left)
        while (end > begin && strippable(cps[end - 1])) --end;
    std::string out;
    for (size_t i = begin; i < end; ++i) out += cps[i];
    return out;
}

static std::vector<std::string> split_whitespace(const std::string& s, int64_t max_split, bool from_right) {
    std::vector<std::string> cps = code_points(s);
    if (from_right) std::reverse(cps.begin(), cps.end());
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < cps.size()) {
        while (i < cps.size() && is_space_cp(decode(cps[i]))) ++i;
        if (i >= cps.size()) break;
        std::string word;
        if (max_split >= 0 && static_cast<int64_t>(parts.size()) >= max_split) {
            // The remainder, untouched, is the last part.
            for (size_t j = i; j < cps.size(); ++j) word += cps[j];
            i = cps.size();
        } else {
            while (i < cps.size() && !is_space_cp(decode(cps[i]))) word += cps[i++];
        }
        parts.push_back(std::move(word));
    }
    if (from_right) {
        std::reverse(parts.begin(), parts.end());
        for (std::string& part : parts) {
            std::vector<std::string> p = code_points(part);
            std::reverse(p.begin(), p.end());
            part.clear();
            for (auto& cp : p) part += cp;
        }
    }
    return parts;
}

std::vector<std::string> split(const std::string& s, const std::string& sep, int64_t max_split) {
    if (sep.empty()) return split_whitespace(s, max_split, false);
    std::vector<std::string> parts;
    size_t start = 0;
    while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
        size_t at = s.find(sep, start);
        if (at == std::string::npos) break;
        parts.push_back(s.substr(start, at - start));
        start = at + sep.size();
    }
    parts.push_back(s.substr(start));
    return parts;
}

std::vector<std::string> rsplit(const std::string& s, const std::string& sep, int64_t max_split) {
    if (sep.empty()) return split_whitespace(s, max_split, true);
    if (max_split < 0) return split(s, sep, -1);
    std::vector<std::string> parts;
    size_t end = s.size();
    while (static_cast<int64_t>(parts.size()) < max_split && end >= sep.size()) {
        size_t at = s.rfind(sep, end - sep.size());
        if (at == std::string::npos) break;
        parts.push_back(s.substr(at + sep.size(), end - at - sep.size()));
        end = at;
    }
    parts.push_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
}

std::vector<std::string> splitlines(const std::string& s) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
            lines.push_back(s.substr(start, i - start));
            if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            start = i + 1;
        }
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    return lines;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    if (from.empty()) {
        // Python inserts `to` between every character (and at both ends).
        std::string out;
        int64_t done = 0;
        for (const std::string& cp : code_points(s)) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            out += cp;
        }
        if (count < 0 || done < count) out += to;
        return out;
    }
    std::string out;
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t at = s.find(from, start);
        if (at == std::string::npos) break;
        out.append(s, start, at - start);
        out += to;
        start = at + from.size();
        ++done;
    }
    out.append(s, start);
    return out;
}

size_t count(const std::string& s, const std::string& needle) {
    if (needle.empty()) return length(s) + 1;
    size_t n = 0;
    for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + needle.size())) ++n;
    return n;
}

std::string upper(const std::string& s) { return map_cps(s, to_upper_cp); }
std::string lower(const std::string& s) { return map_cps(s, to_lower_cp); }

std::string capitalize(const std::string& s) {
    std::string out;
    bool first = true;
    for (const std::string& cp : code_points(s)) {
        out += map_cps(cp, first ? to_upper_cp : to_lower_cp);
        first = false;
    }
    return out;
}

std::string title(const std::string& s) {
    std::string out;
    bool previous_cased = false;
    for (const std::string& cp : code_points(s)) {
        uint32_t c = cp.size() == 1 && static_cast<uint8_t>(cp[0]) >= 0x80 ? 0 : decode(cp);
        bool cased = c != 0 && is_cased(c);
        out += cased ? encode(previous_cased ? to_lower_cp(c) : to_upper_cp(c)) : cp;
        previous_cased = cased;
    }
    return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace rf::tmpl::text
