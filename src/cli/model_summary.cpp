#include "cli/model_summary.h"

#include <algorithm>

#include <fmt/format.h>

namespace rf::cli {
namespace {

// Architectures the engine knows; others still parse but earn a warning.
constexpr std::string_view kKnownArchitectures[] = {"llama", "qwen2", "qwen3", "phi3", "gemma2"};

std::string token_label(const gguf::File& file, std::string_view id_key, const std::vector<std::string>* tokens) {
    auto id = file.get_uint(id_key);
    if (!id) return "";
    if (tokens && *id < tokens->size()) return fmt::format("{} '{}'", *id, (*tokens)[*id]);
    return fmt::format("{}", *id);
}

TokenizerSummary summarize_tokenizer(const gguf::File& file) {
    TokenizerSummary t;
    auto model = file.get_string("tokenizer.ggml.model");
    if (!model) return t;
    t.present = true;
    t.model = *model;
    t.pre = file.get_string_or("tokenizer.ggml.pre", "").value_or("");
    auto tokens = file.get_string_array("tokenizer.ggml.tokens");
    if (tokens) t.vocab_size = tokens->size();
    if (const gguf::Value* merges = file.find("tokenizer.ggml.merges"); merges && merges->as_array())
        t.merges = merges->as_array()->size();
    const std::vector<std::string>* vocab = tokens ? &tokens.value() : nullptr;
    t.bos = token_label(file, "tokenizer.ggml.bos_token_id", vocab);
    t.eos = token_label(file, "tokenizer.ggml.eos_token_id", vocab);
    if (auto tmpl = file.get_string("tokenizer.chat_template")) t.chat_template_chars = tmpl->size();
    return t;
}

}  // namespace

ModelSummary summarize(const gguf::File& file) {
    ModelSummary s;
    s.architecture = file.architecture();
    s.name = file.get_string_or("general.name", "").value_or("");
    const std::string prefix = s.architecture + ".";
    for (const auto& entry : file.metadata()) {
        if (!s.architecture.empty() && entry.key.starts_with(prefix))
            s.hyperparameters.emplace_back(entry.key.substr(prefix.size()), entry.value.to_display_string());
    }
    for (const auto& t : file.tensors()) {
        TypeTotals& totals = s.by_type[std::string(tensor_type_name(t.type))];
        totals.tensors++;
        totals.elements += t.n_elements;
        totals.bytes += t.n_bytes;
        s.parameters += t.n_elements;
        s.tensor_bytes += t.n_bytes;
    }
    uint64_t most = 0;
    for (const auto& [type, totals] : s.by_type) {
        if (totals.bytes > most) most = totals.bytes, s.dominant_type = type;
    }
    s.tokenizer = summarize_tokenizer(file);

    if (s.architecture.empty()) {
        s.warnings.push_back("no general.architecture");
    } else if (std::find(std::begin(kKnownArchitectures), std::end(kKnownArchitectures), s.architecture) ==
               std::end(kKnownArchitectures)) {
        s.warnings.push_back(fmt::format("architecture '{}' is not supported for inference yet", s.architecture));
    }
    if (file.tensors().empty()) s.warnings.push_back("no tensors (vocabulary-only file)");
    if (!s.tokenizer.present) s.warnings.push_back("no tokenizer (tokenizer.ggml.model missing)");
    return s;
}

nlohmann::json to_json(const ModelSummary& s) {
    nlohmann::json j;
    j["architecture"] = s.architecture;
    j["name"] = s.name;
    j["parameters"] = s.parameters;
    j["tensor_bytes"] = s.tensor_bytes;
    j["dominant_type"] = s.dominant_type;
    for (const auto& [key, value] : s.hyperparameters) j["hyperparameters"][key] = value;
    for (const auto& [type, t] : s.by_type)
        j["types"][type] = {{"tensors", t.tensors}, {"elements", t.elements}, {"bytes", t.bytes}};
    const auto& tk = s.tokenizer;
    j["tokenizer"] = tk.present ? nlohmann::json{{"model", tk.model}, {"pre", tk.pre}, {"vocab_size", tk.vocab_size},
                                                 {"merges", tk.merges}, {"bos", tk.bos}, {"eos", tk.eos},
                                                 {"chat_template_chars", tk.chat_template_chars}}
                                : nlohmann::json(nullptr);
    j["warnings"] = s.warnings;
    return j;
}

std::string format_bytes(uint64_t bytes) {
    constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string format_count(uint64_t count) {
    if (count >= 1'000'000'000) return fmt::format("{:.2f}B", count / 1e9);
    if (count >= 1'000'000) return fmt::format("{:.2f}M", count / 1e6);
    if (count >= 1'000) return fmt::format("{:.1f}K", count / 1e3);
    return fmt::format("{}", count);
}

}  // namespace rf::cli
