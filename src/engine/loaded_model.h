// A model file opened for generation: the mapping, the model, its tokenizer and an engine, kept
// together because the weights point into the mapping.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/placement_plan.h"
#include "gguf/reader.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {

// Where a model is loaded: everything on `main`, or, with `cpu` set, split between `main` (a GPU)
// and the CPU as `split` asks, or, with `group` set, shared out over a tensor-parallel group:
// rank 0 on `main`, rank r on peers[r - 1], summing through `group` (made over those backends; a
// group of one runs on `main` alone, through the same code).
struct Devices {
    Backend* main = nullptr;
    Backend* cpu = nullptr;
    SplitRequest split;
    std::vector<Backend*> peers;
    CollectiveGroup* group = nullptr;
};

struct LoadedModel {
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<model::Model> model;  // (rank 0's share in a tensor-parallel group)
    std::vector<std::unique_ptr<model::Model>> peers;  // the other ranks' shares
    std::unique_ptr<tokenizer::Tokenizer> tokenizer;
    std::unique_ptr<Engine> engine;
    PlanEstimate plan;  // what a split counted (empty for one backend)
    // Models the engine ran before a move (move_to): kept, since a lost device may refuse to free
    // their memory and an embedder may still point at one.
    std::vector<std::unique_ptr<model::Model>> retired;

    // After the device the model ran on was lost: loads the whole model again on `backend` from
    // the same file (the CPU computes from the mapped file in place) and moves the engine there
    // with a fresh KV cache (Engine::relocate). An Error naming the bytes needed and free when the
    // weights do not fit in the backend's free memory, or when the model runs there already.
    Result<EngineMove> move_to(Backend& backend);

    // Opens `path` and prepares everything on `backend` (which must outlive the result).
    // options.n_ctx 0 means the model's training context. The CPU backend computes from the
    // file's bytes in place, so FileLoad::Copy (huge pages, and weights it may interleave for its
    // kernels) makes its products faster.
    static Result<LoadedModel> load(const std::string& path, Backend& backend, EngineOptions options,
                                    FileLoad file_load = FileLoad::Map, const MappedFile::Progress& progress = {});
    // The same over `devices`. A split maps the file to plan it, and reads it with `file_load`
    // only when layers land on the CPU (a model all on the GPU needs no copy in host memory).
    static Result<LoadedModel> load(const std::string& path, const Devices& devices, EngineOptions options,
                                    FileLoad file_load = FileLoad::Map, const MappedFile::Progress& progress = {});
    // The same without an engine (null), for users that make their own (an Embedder).
    static Result<LoadedModel> open(const std::string& path, Backend& backend, FileLoad file_load = FileLoad::Map,
                                    const MappedFile::Progress& progress = {});
};

}  // namespace rf::engine
