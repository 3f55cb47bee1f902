// Which backend computes each part of a model: the token embedding, each transformer layer and the
// output head (final norm and vocabulary product). A model on one backend has one part; a split
// between a GPU and the CPU has two, and the hidden state crosses between them once per boundary
// per step. Each layer's weights and KV cache live with its backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/hparams.h"

namespace rf::model {

struct Placement {
    std::vector<Backend*> backends;  // distinct backends; the entries below index it
    int input = 0;                   // token embedding
    std::vector<int> layers;         // one entry per transformer layer
    int output = 0;                  // final norm and logits
    TensorShard shard;               // the share of every layer loaded (one rank of a tensor-parallel group)

    static Placement single(Backend& backend, int64_t n_layers);
    // The first `gpu_layers` layers on `gpu`, the rest on `cpu`; the output head on the GPU when
    // `output_on_gpu`. The embedding (a lookup of a few rows) stays with the CPU whenever the CPU
    // has any part, so that its table takes no GPU memory. With everything on one of the two the
    // result is single().
    static Placement split(Backend& gpu, Backend& cpu, int64_t n_layers, int64_t gpu_layers, bool output_on_gpu);

    Backend& backend(int part) const { return *backends[static_cast<size_t>(part)]; }
    int parts() const { return static_cast<int>(backends.size()); }
    int64_t layers_on(int part) const;
    // "cuda: layers 0-15, output; cpu: embedding, layers 16-31".
    std::string describe() const;
    // "cuda", or "cuda+cpu" for a split; the devices joined the same way.
    std::string backend_names() const;
    std::string device_names() const;
    // Every entry names a backend and there is one per layer.
    Status check(int64_t n_layers) const;
};

}  // namespace rf::model
