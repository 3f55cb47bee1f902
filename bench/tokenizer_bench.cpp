// Tokenizer throughput in bytes/s on the ~1 MB tinyshakespeare corpus, one thread, for a
// SentencePiece-style vocabulary and byte-level BPE vocabularies; plus decoding.
//   tokenizer_bench [--benchmark_filter=...]   (ROCMFORGE_SHARED_DIR overrides the data folder)
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <benchmark/benchmark.h>

#include "gguf/reader.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace {

using rf::tokenizer::Tokenizer;

std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("ROCMFORGE_SHARED_DIR")) return env;
    return ROCMFORGE_SHARED_DIR;
}

const std::string* corpus() {
    static const std::unique_ptr<std::string> text = [] {
        std::ifstream in(shared_dir() / "corpus/tinyshakespeare.txt", std::ios::binary);
        if (!in) return std::unique_ptr<std::string>();
        std::ostringstream buffer;
        buffer << in.rdbuf();
        return std::make_unique<std::string>(buffer.str());
    }();
    return text.get();
}

// Loaded once per vocabulary; nullptr when the file is missing or does not load.
const Tokenizer* tokenizer(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    auto [it, inserted] = cache.try_emplace(name);
    if (inserted) {
        auto file = rf::gguf::File::open((shared_dir() / ("tokenizer/ggml-vocab-" + name + ".gguf")).string());
        if (file.ok()) {
            auto tok = Tokenizer::from_gguf(*file);
            if (tok.ok()) it->second = std::make_unique<Tokenizer>(std::move(tok).value());
        }
    }
    return it->second.get();
}

bool prepare(benchmark::State& state, const std::string& vocab, const Tokenizer*& tok, const std::string*& text) {
    tok = tokenizer(vocab);
    text = corpus();
    if (!tok || !text) {
        state.SkipWithError("reference data not found (set ROCMFORGE_SHARED_DIR)");
        return false;
    }
    return true;
}

void BM_Encode(benchmark::State& state, const std::string& vocab) {
    const Tokenizer* tok;
    const std::string* text;
    if (!prepare(state, vocab, tok, text)) return;
    size_t n_tokens = 0;
    for (auto _ : state) {
        auto ids = tok->encode(*text, {.add_special = false, .parse_special = false});
        n_tokens = ids.size();
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
    state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_Decode(benchmark::State& state, const std::string& vocab) {
    const Tokenizer* tok;
    const std::string* text;
    if (!prepare(state, vocab, tok, text)) return;
    const auto ids = tok->encode(*text, {.add_special = false, .parse_special = false});
    for (auto _ : state) {
        std::string out = tok->decode(ids);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
}

void BM_StreamDecode(benchmark::State& state, const std::string& vocab) {
    const Tokenizer* tok;
    const std::string* text;
    if (!prepare(state, vocab, tok, text)) return;
    const auto ids = tok->encode(*text, {.add_special = false, .parse_special = false});
    for (auto _ : state) {
        rf::tokenizer::StreamDecoder stream(*tok);
        size_t bytes = 0;
        for (int32_t id : ids) bytes += stream.push(id).size();
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
}

BENCHMARK_CAPTURE(BM_Encode, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, deepseek_llm, std::string("deepseek-llm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, deepseek_coder, std::string("deepseek-coder"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, bert_bge, std::string("bert-bge"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_StreamDecode, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
