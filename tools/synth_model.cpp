// rocmforge-synth: writes a synthetic GGUF model (random weights, small SentencePiece-style vocab)
// of any supported architecture and shape, for tests, fuzz seeds and benchmarks.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "gguf/reader.h"
#include "gguf/writer.h"
#include "quant/quantize.h"

namespace {

using rf::TensorType;
using rf::gguf::Value;

struct Shape {
    std::string arch = "llama";
    uint32_t layers = 2, embd = 256, ff = 512, heads = 8, kv_heads = 2, head_dim = 0, vocab = 512, ctx = 2048;
    uint32_t experts = 0, experts_used = 0;
    std::string type = "F16";
    uint64_t seed = 1;
    std::string vocab_from;  // a GGUF whose tokenizer.* keys are copied (a real vocabulary)
    std::string out;
};

class WeightMaker {
public:
    WeightMaker(uint64_t seed, TensorType type) : rng_(seed), type_(type) {}

    // A matrix of `cols` x `rows` (ggml order) with N(0, std) weights, quantized to the model type.
    // `count` > 1 stacks that many matrices in a third dimension (MoE experts). Rows are drawn and
    // quantized in chunks on all cores, each chunk from its own seed, so large shapes take seconds.
    rf::Status matrix(rf::gguf::Writer& w, const std::string& name, uint64_t cols, uint64_t rows, float std = 0.02f,
                      std::optional<TensorType> force = {}, uint64_t count = 1) {
        TensorType type = force.value_or(type_);
        if (cols % rf::tensor_type_info(type).block_size != 0) type = TensorType::F16;  // rows too short to quantize
        const uint64_t n_rows = rows * count, row_bytes = *rf::tensor_bytes(type, cols);
        constexpr uint64_t kChunkRows = 64;
        const uint64_t n_chunks = (n_rows + kChunkRows - 1) / kChunkRows, tensor_seed = rng_();
        std::vector<uint8_t> bytes(n_rows * row_bytes);
        std::atomic<uint64_t> next{0};
        std::atomic<bool> failed{false};
        auto work = [&] {
            std::vector<float> values;
            for (uint64_t c; (c = next++) < n_chunks;) {
                const uint64_t first = c * kChunkRows, n = std::min(kChunkRows, n_rows - first);
                std::mt19937_64 rng(tensor_seed ^ (c * 0x9e3779b97f4a7c15ull));
                std::normal_distribution<float> dist(0.0f, std);
                values.resize(n * cols);
                for (float& v : values) v = dist(rng);
                if (!rf::quant::quantize_row(type, values, {bytes.data() + first * row_bytes, n * row_bytes}).ok())
                    failed = true;
            }
        };
        std::vector<std::thread> threads(std::max(1u, std::thread::hardware_concurrency()) - 1);
        for (auto& t : threads) t = std::thread(work);
        work();
        for (auto& t : threads) t.join();
        if (failed) return rf::make_error("{}: could not be quantized to {}", name, rf::tensor_type_name(type));
        std::vector<uint64_t> shape = {cols, rows};
        if (count > 1) shape.push_back(count);
        return w.add_tensor(name, type, std::move(shape), std::move(bytes));
    }

    // A norm weight vector near 1 (kept in F32 as converters do).
    rf::Status norm(rf::gguf::Writer& w, const std::string& name, uint64_t n) { return vector(w, name, n, 0.9f, 1.1f); }
    rf::Status bias(rf::gguf::Writer& w, const std::string& name, uint64_t n) { return vector(w, name, n, -0.1f, 0.1f); }

private:
    rf::Status vector(rf::gguf::Writer& w, const std::string& name, uint64_t n, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<uint8_t> bytes(n * 4);
        for (uint64_t i = 0; i < n; ++i) {
            float v = dist(rng_);
            std::memcpy(bytes.data() + 4 * i, &v, 4);
        }
        return w.add_tensor(name, TensorType::F32, {n}, std::move(bytes));
    }

    std::mt19937_64 rng_;
    TensorType type_;
};

// SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then "▁" + letter pairs.
void add_vocab(rf::gguf::Writer& w, uint32_t vocab) {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        types.push_back(6);
    }
    const std::string letters = "etaoinshrdlucmfwypvbgkqjxz";
    for (size_t i = 0; tokens.size() < vocab; ++i) {
        std::string piece = "\xE2\x96\x81";
        size_t n = i;
        do {
            piece += letters[n % letters.size()];
            n /= letters.size();
        } while (n > 0);
        tokens.push_back(piece);
        types.push_back(1);
    }
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
    w.set("tokenizer.ggml.model", Value::string("llama"));
    w.set("tokenizer.ggml.tokens", Value::string_array(tokens));
    w.set("tokenizer.ggml.scores", Value::f32_array(scores));
    w.set("tokenizer.ggml.token_type", Value::i32_array(types));
    w.set("tokenizer.ggml.bos_token_id", Value::u32(1));
    w.set("tokenizer.ggml.eos_token_id", Value::u32(2));
    w.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
}

// A real vocabulary: every tokenizer.* key of another GGUF; returns its token count.
rf::Result<uint32_t> copy_vocab(rf::gguf::Writer& w, const std::string& path) {
    RF_ASSIGN_OR_RETURN(auto file, rf::gguf::File::open(path));
    RF_ASSIGN_OR_RETURN(auto tokens, file.get_string_array("tokenizer.ggml.tokens"));
    for (const auto& entry : file.metadata())
        if (entry.key.starts_with("tokenizer.")) w.set(entry.key, entry.value);
    return static_cast<uint32_t>(tokens.size());
}

rf::Status build(Shape s) {
    auto type = rf::tensor_type_from_name(s.type);
    if (!type) return rf::make_error("unknown tensor type '{}'", s.type);
    if (s.vocab < 260) return rf::make_error("--vocab must be at least 260 (specials and byte tokens)");
    if (s.heads == 0 || s.kv_heads == 0 || s.heads % s.kv_heads != 0)
        return rf::make_error("--heads must be a positive multiple of --kv-heads");
    const std::string& a = s.arch;
    if (a != "llama" && a != "qwen2" && a != "qwen3" && a != "phi3" && a != "gemma2")
        return rf::make_error("unsupported architecture '{}' (llama, qwen2, qwen3, phi3, gemma2)", a);
    const uint32_t head_dim = s.head_dim ? s.head_dim : s.embd / s.heads;
    const uint64_t q_dim = uint64_t{head_dim} * s.heads, kv_dim = uint64_t{head_dim} * s.kv_heads;

    rf::gguf::Writer w;
    w.set("general.architecture", Value::string(a));
    w.set("general.name", Value::string(fmt::format("synthetic-{}-{}", a, s.type)));
    w.set(a + ".context_length", Value::u32(s.ctx));
    w.set(a + ".embedding_length", Value::u32(s.embd));
    w.set(a + ".block_count", Value::u32(s.layers));
    w.set(a + ".feed_forward_length", Value::u32(s.ff));
    w.set(a + ".attention.head_count", Value::u32(s.heads));
    w.set(a + ".attention.head_count_kv", Value::u32(s.kv_heads));
    w.set(a + ".attention.key_length", Value::u32(head_dim));
    w.set(a + ".attention.value_length", Value::u32(head_dim));
    w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
    w.set(a + ".rope.freq_base", Value::f32(10000.0f));
    w.set(a + ".rope.dimension_count", Value::u32(head_dim));
    if (s.experts > 0) {
        w.set(a + ".expert_count", Value::u32(s.experts));
        w.set(a + ".expert_used_count", Value::u32(s.experts_used ? s.experts_used : 2));
    }
    if (a == "gemma2") {
        w.set(a + ".attn_logit_softcapping", Value::f32(50.0f));
        w.set(a + ".final_logit_softcapping", Value::f32(30.0f));
        w.set(a + ".attention.sliding_window", Value::u32(16));
    }
    if (s.vocab_from.empty()) {
        add_vocab(w, s.vocab);
    } else {
        auto n = copy_vocab(w, s.vocab_from);
        if (!n) return rf::make_error("--vocab-from {}: {}", s.vocab_from, n.error().message);
        s.vocab = *n;
    }

    WeightMaker m(s.seed, *type);
    RF_TRY(m.matrix(w, "token_embd.weight", s.embd, s.vocab, 1.0f, TensorType::Q8_0));
    RF_TRY(m.norm(w, "output_norm.weight", s.embd));
    if (a != "gemma2") RF_TRY(m.matrix(w, "output.weight", s.embd, s.vocab, 0.05f, TensorType::Q6_K));
    const bool show_progress = isatty(STDERR_FILENO) != 0;
    for (uint32_t l = 0; l < s.layers; ++l) {
        if (show_progress) fmt::print(stderr, "\rgenerating layer {}/{}", l + 1, s.layers);
        auto name = [l](const char* suffix) { return fmt::format("blk.{}.{}.weight", l, suffix); };
        RF_TRY(m.norm(w, name("attn_norm"), s.embd));
        RF_TRY(m.norm(w, name("ffn_norm"), s.embd));
        if (a == "phi3") {
            RF_TRY(m.matrix(w, name("attn_qkv"), s.embd, q_dim + 2 * kv_dim));
        } else {
            RF_TRY(m.matrix(w, name("attn_q"), s.embd, q_dim));
            RF_TRY(m.matrix(w, name("attn_k"), s.embd, kv_dim));
            RF_TRY(m.matrix(w, name("attn_v"), s.embd, kv_dim));
        }
        if (a == "qwen2") {  // q/k/v biases
            RF_TRY(m.bias(w, fmt::format("blk.{}.attn_q.bias", l), q_dim));
            RF_TRY(m.bias(w, fmt::format("blk.{}.attn_k.bias", l), kv_dim));
            RF_TRY(m.bias(w, fmt::format("blk.{}.attn_v.bias", l), kv_dim));
        }
        RF_TRY(m.matrix(w, name("attn_output"), q_dim, s.embd));
        if (a == "qwen3") {
            RF_TRY(m.norm(w, name("attn_q_norm"), head_dim));
            RF_TRY(m.norm(w, name("attn_k_norm"), head_dim));
        }
        if (a == "gemma2") {
            RF_TRY(m.norm(w, name("post_attention_norm"), s.embd));
            RF_TRY(m.norm(w, name("post_ffw_norm"), s.embd));
        }
        if (s.experts > 0) {
            RF_TRY(m.matrix(w, name("ffn_gate_inp"), s.embd, s.experts, 0.02f, TensorType::F32));
            // Experts stacked in a third dimension, as converters store them.
            RF_TRY(m.matrix(w, name("ffn_gate_exps"), s.embd, s.ff, 0.02f, {}, s.experts));
            RF_TRY(m.matrix(w, name("ffn_up_exps"), s.embd, s.ff, 0.02f, {}, s.experts));
            RF_TRY(m.matrix(w, name("ffn_down_exps"), s.ff, s.embd, 0.02f, {}, s.experts));
        } else if (a == "phi3") {
            RF_TRY(m.matrix(w, name("ffn_up"), s.embd, 2 * uint64_t{s.ff}));
            RF_TRY(m.matrix(w, name("ffn_down"), s.ff, s.embd));
        } else {
            RF_TRY(m.matrix(w, name("ffn_gate"), s.embd, s.ff));
            RF_TRY(m.matrix(w, name("ffn_up"), s.embd, s.ff));
            RF_TRY(m.matrix(w, name("ffn_down"), s.ff, s.embd));
        }
    }
    if (show_progress) fmt::print(stderr, "\rwriting {}{:20}\n", s.out, "");
    return w.write_file(s.out);
}

}  // namespace

int main(int argc, char** argv) {
    Shape s;
    CLI::App app{"Write a synthetic GGUF model with random weights"};
    app.add_option("--arch", s.arch, "llama, qwen2, qwen3, phi3 or gemma2");
    app.add_option("--layers", s.layers)->check(CLI::Range(1u, 1024u));
    app.add_option("--embd", s.embd)->check(CLI::Range(32u, 65536u));
    app.add_option("--ff", s.ff)->check(CLI::Range(32u, 262144u));
    app.add_option("--heads", s.heads)->check(CLI::Range(1u, 1024u));
    app.add_option("--kv-heads", s.kv_heads)->check(CLI::Range(1u, 1024u));
    app.add_option("--head-dim", s.head_dim, "default: embd / heads");
    app.add_option("--vocab", s.vocab)->check(CLI::Range(260u, 1u << 20));
    app.add_option("--ctx", s.ctx);
    app.add_option("--experts", s.experts, "Mixtral-style MoE expert count (0: dense)");
    app.add_option("--experts-used", s.experts_used);
    app.add_option("--type", s.type, "weight type of the layer matrices (F32, F16, Q4_0, Q4_K, ...)");
    app.add_option("--seed", s.seed);
    app.add_option("--vocab-from", s.vocab_from, "copy the tokenizer (and vocabulary size) of this GGUF file");
    app.add_option("--out", s.out)->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // help, or a usage error (exit 2, as rocmforge's)
    }
    if (rf::Status st = build(s); !st) {
        fmt::print(stderr, "error: {}\n", st.error().message);
        return 1;
    }
    fmt::print("wrote {}\n", s.out);
    return 0;
}
