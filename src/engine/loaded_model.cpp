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

namespace {

// The file's model shared out over `devices`' tensor-parallel group (a GPU backend copies what it
// computes from, so the file is only mapped).
Result<LoadedModel> load_group(const std::string& path, const Devices& devices, EngineOptions options) {
    if (devices.cpu) return make_error("tensor parallel: the layers cannot also be split with the CPU");
    std::vector<Backend*> ranks{devices.main};
    ranks.insert(ranks.end(), devices.peers.begin(), devices.peers.end());
    if (!devices.group || devices.group->world() != static_cast<int>(ranks.size()))
        return make_error("tensor parallel: {} ranks without a collective group of as many", ranks.size());
    LoadedModel m;
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path, FileLoad::Map));
    m.file = std::make_unique<gguf::File>(std::move(file));
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(*m.file));
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
    RF_ASSIGN_OR_RETURN(model::HParams hp, model::read_hparams(*m.file));
    std::vector<const model::Model*> shares;
    for (size_t r = 0; r < ranks.size(); ++r) {
        model::Placement placement = model::Placement::single(*ranks[r], hp.n_layer);
        placement.shard = {.rank = static_cast<int>(r), .world = static_cast<int>(ranks.size())};
        RF_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> share, model::load_model(*m.file, placement));
        shares.push_back(share.get());
        if (r == 0) m.model = std::move(share);
        else m.peers.push_back(std::move(share));
    }
    if (m.tokenizer->n_vocab() > m.model->hparams().n_vocab)
        return make_error("{}: the tokenizer has {} tokens but the embedding table only {} rows", path,
                          m.tokenizer->n_vocab(), m.model->hparams().n_vocab);
    RF_ASSIGN_OR_RETURN(Engine engine, Engine::create(shares, *devices.group, options));
    m.engine = std::make_unique<Engine>(std::move(engine));
    return m;
}

}  // namespace

Result<LoadedModel> LoadedModel::load(const std::string& path, const Devices& devices, EngineOptions options,
                                      FileLoad file_load, const MappedFile::Progress& progress) {
    if (!devices.main) return make_error("no backend to load {} on", path);
    if (devices.group) return load_group(path, devices, options);
    if (!devices.peers.empty()) return make_error("tensor parallel: {} more GPUs but no collective group", devices.peers.size());
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

Result<EngineMove> LoadedModel::move_to(Backend& backend) {
    const model::Placement& now = model->placement();
    if (now.parts() == 1 && &now.backend(0) == &backend)
        return make_error("the model runs on {} already", backend.name());
    // Weights the file does not hold in this process's memory (a mapped file) must fit in what
    // the host can still give; the KV pool is checked by Engine::create.
    if (!file->owns_bytes()) {
        uint64_t weights = 0;
        for (const gguf::TensorInfo& t : file->tensors()) weights += t.n_bytes;
        RF_ASSIGN_OR_RETURN(MemoryInfo memory, backend.memory());
        if (memory.free_bytes != 0 && weights > memory.free_bytes)
            return make_error("the weights need {} MiB but {} has {} MiB free", weights >> 20, backend.device_name(),
                              memory.free_bytes >> 20);
    }
    RF_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> moved, model::load_model(*file, backend));
    RF_TRY(engine->relocate(*moved));
    retired.push_back(std::move(model));
    model = std::move(moved);
    const model::Placement& p = model->placement();
    EngineMove where{.backend = p.backend_names(), .device = p.device_names(), .placement = p.describe(),
                     .layers_per_backend = {}};
    for (int part = 0; part < p.parts(); ++part)
        where.layers_per_backend.emplace_back(p.backend(part).name(), p.layers_on(part));
    return where;
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
