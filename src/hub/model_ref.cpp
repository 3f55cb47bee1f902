#include "hub/model_ref.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/format.h>

namespace rf::hub {
namespace {

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}

bool ends_with_gguf(const std::string& s) { return s.size() > 5 && upper(s.substr(s.size() - 5)) == ".GGUF"; }

std::string strip_host(const std::string& text) {
    for (const char* prefix : {"https://huggingface.co/", "huggingface.co/", "hf.co/"})
        if (text.rfind(prefix, 0) == 0) return text.substr(std::string(prefix).size());
    return text;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

// One part of a repo name: letters, digits, '-', '_', '.', not starting with '.' (so no "../"
// can reach the cache path built from it).
bool valid_name_part(std::string_view part) {
    return !part.empty() && part[0] != '.' && std::all_of(part.begin(), part.end(), name_char);
}

bool valid_repo(const std::string& repo) {
    const size_t slash = repo.find('/');
    if (slash == std::string::npos) return false;
    const std::string_view view(repo);
    return valid_name_part(view.substr(0, slash)) && valid_name_part(view.substr(slash + 1));
}

bool all_digits(std::string_view s, size_t n) {
    return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A shard of a split model: "...-00001-of-00003.gguf".
bool is_shard(const std::string& name) {
    const std::string u = upper(name);
    if (u.size() < 20 || !ends_with_gguf(u)) return false;
    const std::string_view tail = std::string_view(u).substr(u.size() - 20, 15);  // "-00001-OF-00003"
    return tail[0] == '-' && all_digits(tail.substr(1, 5), 5) && tail.substr(6, 4) == "-OF-" && all_digits(tail.substr(10, 5), 5);
}

// A quantization tag: Q4_K_M, IQ4_XS, Q8_0, Q4, F16, F32, BF16 (upper case).
bool is_quant_tag(std::string_view p) {
    if (p == "F16" || p == "F32" || p == "BF16") return true;
    if (!p.empty() && p[0] == 'I') p.remove_prefix(1);
    if (p.size() < 2 || p[0] != 'Q' || !std::isdigit(static_cast<unsigned char>(p[1]))) return false;
    if (p.size() == 2) return true;
    if (p[2] != '_' || p.size() == 3) return std::all_of(p.begin() + 1, p.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    return std::all_of(p.begin() + 3, p.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string list_files(const std::vector<const HubFile*>& ggufs) {
    if (ggufs.empty()) return "  (none)";
    std::string out;
    for (const HubFile* f : ggufs) out += fmt::format("\n  {}", f->path);
    return out;
}

}  // namespace

bool looks_like_model_ref(const std::string& text) {
    const std::string rest = strip_host(text);
    const std::string repo = rest.substr(0, rest.find(':'));
    if (rest.find(':') == std::string::npos && ends_with_gguf(rest)) return false;  // dir/model.gguf: a path
    return valid_repo(repo);
}

Result<ModelRef> parse_model_ref(const std::string& text) {
    const std::string rest = strip_host(text);
    ModelRef ref;
    const size_t colon = rest.find(':');
    ref.repo = rest.substr(0, colon);
    if (!valid_repo(ref.repo))
        return make_error("'{}' is not a hub model: expected OWNER/NAME[:FILE|:QUANT], e.g. Qwen/Qwen2-0.5B-Instruct-GGUF:Q4_K_M", text);
    if (colon == std::string::npos) return ref;
    const std::string tail = rest.substr(colon + 1);
    if (tail.empty()) return make_error("'{}': nothing after ':' (expected a .gguf file or a quantization such as Q4_K_M)", text);
    if (ends_with_gguf(tail)) {
        if (tail.find("..") != std::string::npos || tail[0] == '/')
            return make_error("'{}': the file name may not contain '..' or start with '/'", text);
        ref.file = tail;
    } else {
        ref.quant = tail;
    }
    return ref;
}

std::string quant_of(const std::string& file_name) {
    std::string stem = upper(file_name);
    if (ends_with_gguf(stem)) stem.resize(stem.size() - 5);
    std::string found;
    size_t start = 0;
    while (start <= stem.size()) {
        size_t end = stem.find_first_of(".-/", start);
        if (end == std::string::npos) end = stem.size();
        const std::string part = stem.substr(start, end - start);
        if (is_quant_tag(part)) found = part;  // the last tag wins ("q8_0-model-Q4_K_M")
        start = end + 1;
    }
    return found;
}

Result<HubFile> pick_gguf(const ModelRef& ref, const std::vector<HubFile>& files) {
    std::vector<const HubFile*> ggufs;
    for (const HubFile& f : files)
        if (ends_with_gguf(f.path) && !is_shard(f.path)) ggufs.push_back(&f);
    std::vector<const HubFile*> matches;
    if (!ref.file.empty()) {
        for (const HubFile* f : ggufs)
            if (f->path == ref.file) return *f;
        return make_error("{} has no file {}; its GGUF files:{}", ref.repo, ref.file, list_files(ggufs));
    }
    if (!ref.quant.empty()) {
        for (const HubFile* f : ggufs)
            if (quant_of(f->path) == upper(ref.quant)) matches.push_back(f);
        if (matches.size() == 1) return *matches.front();
        if (matches.empty())
            return make_error("{} has no GGUF file with quantization {}; its GGUF files:{}", ref.repo, ref.quant, list_files(ggufs));
        return make_error("{} has {} GGUF files with quantization {}; name one as {}:FILE; they are:{}", ref.repo, matches.size(),
                          ref.quant, ref.repo, list_files(matches));
    }
    if (ggufs.size() == 1) return *ggufs.front();
    for (const HubFile* f : ggufs)
        if (quant_of(f->path) == "Q4_K_M") matches.push_back(f);
    if (matches.size() == 1) return *matches.front();
    if (ggufs.empty()) return make_error("{} has no GGUF file (split models are not supported)", ref.repo);
    return make_error("{} has {} GGUF files; name one as {}:QUANT or {}:FILE; they are:{}", ref.repo, ggufs.size(), ref.repo, ref.repo,
                      list_files(ggufs));
}

}  // namespace rf::hub
