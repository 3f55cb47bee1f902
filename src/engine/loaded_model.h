// A model file opened for generation: the mapping, the model, its tokenizer and an engine, kept
// together because the weights point into the mapping.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "gguf/reader.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {

struct LoadedModel {
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer;
    std::unique_ptr<Engine> engine;

    // Opens `path` and prepares everything on `backend` (which must outlive the result).
    // options.n_ctx 0 means the model's training context. The CPU backend computes from the
    // file's bytes in place, so FileLoad::Copy (huge pages, and weights it may interleave for its
    // kernels) makes its products faster.
    static Result<LoadedModel> load(const std::string& path, Backend& backend, EngineOptions options,
                                    FileLoad file_load = FileLoad::Map, const MappedFile::Progress& progress = {});
};

}  // namespace rf::engine
