// A reference recorded from the CPU backend instead of the golden file: the same prompts run on
// the CPU with a given KV type, their outputs kept the way the golden files keep them (top-5 per
// prompt position, last-position logits, greedy tokens with their top-5). The conformance test
// holds another backend to it with the protocol of ../shared/README.md — how a GPU with an F16
// KV cache is compared, since the golden outputs were made with an F32 cache.
#pragma once

#include <algorithm>
#include <numeric>

#include "backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "golden.h"

namespace rf::test {

inline TopList top5(const float* row, int64_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + 5, ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    TopList out;
    for (int i = 0; i < 5; ++i) out.emplace_back(ids[i], row[ids[i]]);
    return out;
}

// The golden cases' prompts (tokens as the golden file has them) replayed on the CPU. The file is
// mapped read-only, so the CPU leaves the bytes another backend may read as they are.
inline Result<std::vector<GoldenCase>> cpu_reference(const std::string& path, const std::vector<GoldenCase>& golden,
                                                     KvType kv_type) {
    RF_ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path, FileLoad::Map));
    cpu::CpuBackend backend;
    RF_ASSIGN_OR_RETURN(auto model, model::load_model(file, backend));
    const int64_t n_vocab = model->hparams().n_vocab;
    std::vector<GoldenCase> out;
    for (const GoldenCase& g : golden) {
        RF_ASSIGN_OR_RETURN(auto engine, engine::Engine::create(*model, {.n_ctx = 512, .n_batch = 37, .kv_type = kv_type}));
        GoldenCase c;
        c.prompt = g.prompt;
        c.tokens = g.tokens;
        std::vector<float> logits;
        RF_TRY(engine.feed(0, c.tokens, true, logits));
        for (size_t p = 0; p < c.tokens.size(); ++p) c.prompt_top5.push_back(top5(logits.data() + p * n_vocab, n_vocab));
        c.last_logits.assign(logits.end() - n_vocab, logits.end());
        std::vector<float> step(logits.end() - n_vocab, logits.end());
        for (size_t i = 0; i < g.greedy.size(); ++i) {
            c.greedy_top5.push_back(top5(step.data(), n_vocab));
            c.greedy.push_back(c.greedy_top5.back()[0].first);
            if (i + 1 == g.greedy.size()) break;
            const int32_t next[] = {c.greedy.back()};
            RF_TRY(engine.feed(0, next, false, step));
        }
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace rf::test
