#include "model/registry.h"

#include <array>
#include <string_view>

#include <fmt/ranges.h>

namespace rf::model {

namespace {
struct Architecture {
    std::string_view name;
    ArchLoader load;
};

constexpr std::array kArchitectures = {
    Architecture{"llama", load_llama},  // also Mistral, Yi, TinyLlama, Mixtral (with experts)
    Architecture{"qwen2", load_qwen2},
    Architecture{"qwen3", load_qwen3},
    Architecture{"phi3", load_phi3},
    Architecture{"gemma2", load_gemma2},
};

// A tensor-parallel rank's share must be whole heads (with their KV heads) and an even part of the
// feed-forward width; the matrices' own checks then find what does not split on block boundaries.
Status check_shard(const gguf::File& file, const HParams& hp) {
    const TensorShard& s = hp.shard;
    if (s.world < 1 || s.rank < 0 || s.rank >= s.world)  // (first: a rank 1 of a world of 1 would add nothing)
        return make_error("tensor parallel: rank {} of a group of {}", s.rank, s.world);
    if (s.whole()) return ok_status();
    if (hp.n_head % s.world != 0 || hp.n_head_kv % s.world != 0)
        return make_error("{}: {} attention heads and {} KV heads do not split over {} ranks", file.path(), hp.n_head,
                          hp.n_head_kv, s.world);
    if (hp.n_ff % s.world != 0)
        return make_error("{}: a feed-forward width of {} does not split over {} ranks", file.path(), hp.n_ff, s.world);
    if (s.vocab_count(hp.n_vocab) <= 0)  // (runs of ceil(n_vocab / world) can leave the last ranks none)
        return make_error("{}: a vocabulary of {} does not split over {} ranks", file.path(), hp.n_vocab, s.world);
    return ok_status();
}

}  // namespace

std::vector<std::string> supported_architectures() {
    std::vector<std::string> names;
    for (const auto& a : kArchitectures) names.emplace_back(a.name);
    return names;
}

Result<std::unique_ptr<Model>> load_model(const gguf::File& file, Backend& backend) {
    // Unreadable hyper-parameters or an unknown architecture: the load below says which.
    auto hp = read_hparams(file);
    return load_model(file, Placement::single(backend, hp ? hp->n_layer : 0));
}

Result<std::unique_ptr<Model>> load_model(const gguf::File& file, const Placement& placement) {
    const std::string arch = file.architecture();
    for (const auto& a : kArchitectures) {
        if (a.name != arch) continue;
        RF_ASSIGN_OR_RETURN(HParams hp, read_hparams(file));
        const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
        if (!embd || embd->shape.size() != 2) return make_error("{}: token_embd.weight is missing or not 2-D", file.path());
        if (static_cast<int64_t>(embd->shape[0]) != hp.n_embd)
            return make_error("{}: token_embd.weight rows have {} values but {} = {}", file.path(), embd->shape[0],
                              hp.key("embedding_length"), hp.n_embd);
        if (embd->shape[1] > static_cast<uint64_t>(kMaxVocab))
            return make_error("{}: token_embd.weight has {} rows, more token ids than int32 holds ({})", file.path(),
                              embd->shape[1], kMaxVocab);
        hp.n_vocab = static_cast<int64_t>(embd->shape[1]);
        RF_TRY(placement.check(hp.n_layer));
        hp.shard = placement.shard;
        RF_TRY(check_shard(file, hp));
        RF_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, a.load(file, placement, std::move(hp)));
        model->adopt_placement(placement);
        return model;
    }
    return make_error("{}: architecture '{}' is not supported (supported: {})", file.path(),
                      arch.empty() ? "(none)" : arch, fmt::join(supported_architectures(), ", "));
}

}  // namespace rf::model
