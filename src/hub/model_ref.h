// What a user names when asking for a hub model: REPO, REPO:FILE or REPO:QUANT (as llama.cpp's -hf
// and Ollama's hf.co/ names), and which of a repository's GGUF files that picks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace rf::hub {

struct ModelRef {
    std::string repo;   // "owner/name"
    std::string file;   // a path inside the repo ending in .gguf, when one was named
    std::string quant;  // e.g. "Q4_K_M" as typed, when a quantization was named instead
};

// True when `text` reads as a hub reference rather than a file path: owner/name with an optional
// :FILE or :QUANT, optionally after hf.co/ or huggingface.co/. The caller checks first that no
// such file exists, so a plain path keeps its meaning.
bool looks_like_model_ref(const std::string& text);
Result<ModelRef> parse_model_ref(const std::string& text);

// One file of a hub repository, as its file list gives it.
struct HubFile {
    std::string path;          // inside the repo
    int64_t size = -1;         // bytes; -1 when not known
    std::string sha256;        // lowercase hex of the content (LFS oid); empty when not published
};

// The quantization tag in a GGUF file name ("model-Q4_K_M.gguf" -> "Q4_K_M"), upper case; empty
// when the name has none. Tags are the name's parts between '.', '-' and '/'.
std::string quant_of(const std::string& file_name);

// The GGUF file `ref` names among `files`: the named file, the one whose quantization tag equals
// ref.quant (case-insensitive), or without either the only GGUF file (or else the Q4_K_M one, as
// llama.cpp defaults). Shards of split models (-00001-of-00003) are not offered. With several
// matches or none, the error lists the repo's GGUF files.
Result<HubFile> pick_gguf(const ModelRef& ref, const std::vector<HubFile>& files);

}  // namespace rf::hub
