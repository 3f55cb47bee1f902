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

namespace rf::model {

class Model {
public:
    virtual ~Model() = default;
    const HParams& hparams() const { return hp_; }

    // Runs every layer over the batch (its keys and values go into the state's KV cache) and
    // writes the logits of the rows it asks for.
    virtual Status forward(ForwardState& state) const = 0;

    // Keeps the backend memory of parameters the loader converted.
    void adopt_buffers(std::vector<DeviceBuffer> buffers) { buffers_ = std::move(buffers); }

protected:
    explicit Model(HParams hp) : hp_(std::move(hp)) {}
    HParams hp_;
    std::vector<DeviceBuffer> buffers_;  // backend memory of converted parameters
};

// Reads the hyper-parameters, picks the architecture and loads its weights, checking every shape.
// The file must outlive the model (weights point into its mapping).
Result<std::unique_ptr<Model>> load_model(const gguf::File& file, Backend& backend);

// Names of the supported architectures ("llama", "qwen2", ...).
std::vector<std::string> supported_architectures();

}  // namespace rf::model
