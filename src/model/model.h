// A loaded model: hyper-parameters, weights (in place in the file mapping on the CPU; on a GPU each
// WeightMatrix the layers keep owns its device copy) and its forward pass, which turns the batch
// in a ForwardState into logits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/reader.h"
#include "model/forward_state.h"
#include "model/hparams.h"
#include "model/placement.h"

namespace rf::model {

class Model {
public:
    virtual ~Model() = default;
    const HParams& hparams() const { return hp_; }

    // Runs every layer over the batch (its keys and values go into the state's KV cache) and
    // writes the logits of the rows it asks for.
    virtual Status forward(ForwardState& state) const = 0;

    // The backends its parts were loaded on (the engine computes each part there).
    const Placement& placement() const { return placement_; }

    // Keeps the backend memory of parameters the loader converted, and where they were loaded.
    void adopt_buffers(std::vector<DeviceBuffer> buffers) { buffers_ = std::move(buffers); }
    void adopt_placement(Placement placement) { placement_ = std::move(placement); }

protected:
    explicit Model(HParams hp) : hp_(std::move(hp)) {}
    HParams hp_;
    std::vector<DeviceBuffer> buffers_;  // backend memory of converted parameters
    Placement placement_;
};

// Reads the hyper-parameters, picks the architecture and loads its weights, checking every shape.
// The file must outlive the model (weights point into its mapping).
Result<std::unique_ptr<Model>> load_model(const gguf::File& file, Backend& backend);
// The same with each part of the model on the backend `placement` gives it (one entry per layer
// of the file's model).
Result<std::unique_ptr<Model>> load_model(const gguf::File& file, const Placement& placement);

// Names of the supported architectures ("llama", "qwen2", ...).
std::vector<std::string> supported_architectures();

}  // namespace rf::model
