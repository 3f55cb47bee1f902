// What `inspect` and `models` report about a GGUF file: hyper-parameters, tokenizer, tensors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/reader.h"

namespace rf::cli {

struct TypeTotals {
    uint64_t tensors = 0;
    uint64_t elements = 0;
    uint64_t bytes = 0;
};

struct TokenizerSummary {
    bool present = false;
    std::string model;          // tokenizer.ggml.model
    std::string pre;            // tokenizer.ggml.pre
    uint64_t vocab_size = 0;
    uint64_t merges = 0;
    std::string bos, eos;       // "id (text)" when known
    uint64_t chat_template_chars = 0;
};

struct ModelSummary {
    std::string architecture;
    std::string name;
    uint64_t parameters = 0;
    uint64_t tensor_bytes = 0;
    std::map<std::string, TypeTotals> by_type;   // keyed by type name
    std::string dominant_type;                   // the type holding the most bytes
    std::vector<std::pair<std::string, std::string>> hyperparameters;  // "ARCH.*" keys, displayed
    TokenizerSummary tokenizer;
    std::vector<std::string> warnings;           // valid file, but something a loader should know
};

ModelSummary summarize(const gguf::File& file);

nlohmann::json to_json(const ModelSummary& summary);

std::string format_bytes(uint64_t bytes);
std::string format_count(uint64_t count);  // 1.10B, 32.0K...

}  // namespace rf::cli
