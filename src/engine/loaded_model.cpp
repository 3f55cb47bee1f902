#include "engine/loaded_model.h"

namespace rf::engine {

Result<LoadedModel> LoadedModel::load(const std::string& path, Backend& backend, EngineOptions options,
                                      FileLoad file_load, const MappedFile::Progress& progress) {
    LoadedModel m;
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path, file_load, progress));
    m.file = std::make_unique<gguf::File>(std::move(file));
    RF_ASSIGN_OR_RETURN(m.model, model::load_model(*m.file, backend));
    RF_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(*m.file));
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
    if (m.tokenizer->n_vocab() > m.model->hparams().n_vocab)
        return make_error("{}: the tokenizer has {} tokens but the embedding table only {} rows", path,
                          m.tokenizer->n_vocab(), m.model->hparams().n_vocab);
    RF_ASSIGN_OR_RETURN(Engine engine, Engine::create(*m.model, backend, options));
    m.engine = std::make_unique<Engine>(std::move(engine));
    return m;
}

}  // namespace rf::engine
