#include "engine/loaded_model.h"

#include <algorithm>

namespace rf::engine {

namespace {

// Whether a failed load ran out of memory (a backend's allocation, or a KV pool that does not fit).
bool out_of_memory(const Error& e) {
    return e.message.find("out of memory") != std::string::npos || e.message.find("kv cache:") != std::string::npos;
}

int64_t gpu_layers_of(const model::Placement& p, const Backend* cpu) {
    int64_t n = 0;
    for (int part = 0; part < p.parts(); ++part)
        if (&p.backend(part) != cpu) n += p.layers_on(part);
    return n;
}

}  // namespace

Result<LoadedModel> LoadedModel::load(const std::string& path, Backend& backend, EngineOptions options,
                                      FileLoad file_load, const MappedFile::Progress& progress) {
    return load(path, Devices{.main = &backend, .cpu = nullptr, .split = {}}, options, file_load, progress);
}

Result<LoadedModel> LoadedModel::load(const std::string& path, const Devices& devices, EngineOptions options,
                                      FileLoad file_load, const MappedFile::Progress& progress) {
    if (!devices.main) return make_error("no backend to load {} on", path);
    LoadedModel m;
    model::Placement placement;
    if (devices.cpu) {
        RF_ASSIGN_OR_RETURN(gguf::File mapped, gguf::File::open(path, FileLoad::Map));
        RF_ASSIGN_OR_RETURN(model::HParams hp, model::read_hparams(mapped));
        RF_ASSIGN_OR_RETURN(placement, plan_split(mapped, hp, *devices.main, *devices.cpu, devices.split, options, &m.plan));
        const bool cpu_has_layers =
            std::find(placement.backends.begin(), placement.backends.end(), devices.cpu) != placement.backends.end();
        if (cpu_has_layers && file_load == FileLoad::Copy) {
            RF_ASSIGN_OR_RETURN(mapped, gguf::File::open(path, FileLoad::Copy, progress));
        }
        m.file = std::make_unique<gguf::File>(std::move(mapped));
    } else {
        RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path, file_load, progress));
        m.file = std::make_unique<gguf::File>(std::move(file));
        placement = model::Placement::single(*devices.main, 0);
    }
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(*m.file));
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
    // With `auto`, a plan that the GPU's memory does not hold after all (the plan is an estimate)
    // is retried with fewer GPU layers, down to the CPU alone.
    const bool may_retry = devices.cpu && devices.split.gpu_layers == kAutoLayers;
    for (;;) {
        Status loaded = ok_status();
        if (devices.cpu) {
            auto model = model::load_model(*m.file, placement);
            if (model) m.model = std::move(*model);
            else loaded = model.error();
        } else {
            auto model = model::load_model(*m.file, *devices.main);
            if (model) m.model = std::move(*model);
            else loaded = model.error();
        }
        if (loaded.ok()) {
            if (m.tokenizer->n_vocab() > m.model->hparams().n_vocab)
                return make_error("{}: the tokenizer has {} tokens but the embedding table only {} rows", path,
                                  m.tokenizer->n_vocab(), m.model->hparams().n_vocab);
            auto engine = Engine::create(*m.model, options);
            if (engine) {
                m.engine = std::make_unique<Engine>(std::move(*engine));
                return m;
            }
            loaded = engine.error();
        }
        const int64_t on_gpu = gpu_layers_of(placement, devices.cpu);
        const bool output_on_gpu = &placement.backend(placement.output) != devices.cpu;
        if (!may_retry || (on_gpu == 0 && !output_on_gpu) || !out_of_memory(loaded.error())) return loaded.error();
        m.model.reset();  // frees what the failed attempt took on the GPU
        const int64_t n_layers = static_cast<int64_t>(placement.layers.size());
        const int64_t fewer = std::max<int64_t>(0, on_gpu - std::max<int64_t>(1, n_layers / 8));
        m.plan.notes.push_back(fmt::format("{} layers on the GPU did not fit ({}): retried with {}", on_gpu,
                                           loaded.error().message, fewer));
        placement = model::Placement::split(*devices.main, *devices.cpu, n_layers, fewer, on_gpu > 0 && output_on_gpu);
    }
}

Result<LoadedModel> LoadedModel::open(const std::string& path, Backend& backend, FileLoad file_load,
                                      const MappedFile::Progress& progress) {
    LoadedModel m;
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path, file_load, progress));
    m.file = std::make_unique<gguf::File>(std::move(file));
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(*m.file));
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
    RF_ASSIGN_OR_RETURN(m.model, model::load_model(*m.file, backend));
    if (m.tokenizer->n_vocab() > m.model->hparams().n_vocab)
        return make_error("{}: the tokenizer has {} tokens but the embedding table only {} rows", path,
                          m.tokenizer->n_vocab(), m.model->hparams().n_vocab);
    return m;
}

}  // namespace rf::engine
