// Small random models of every supported architecture, written with the GGUF writer in memory,
// for tests that need a model but not a reference (batch invariance, error handling).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gguf/writer.h"
#include "model/tensor_names.h"
#include "quant/quantize.h"

namespace rf::test {

struct SyntheticShape {
    std::string arch = "llama";
    int64_t n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 96, n_vocab = 128;
    int64_t n_expert = 0, n_expert_used = 0;
    TensorType type = TensorType::F32;  // matrices; vectors stay F32
    bool tied = false;
    bool vocab = false;  // a SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, letters
    uint64_t seed = 7;
};

class SyntheticModel {
public:
    explicit SyntheticModel(SyntheticShape s) : s_(std::move(s)), rng_(s_.seed) {}

    // The file's bytes; an empty vector when something failed (tests check the Result).
    Result<std::vector<uint8_t>> build() {
        using model::TensorName;
        const std::string a = s_.arch;
        w_.set("general.architecture", gguf::Value::string(a));
        w_.set(a + ".context_length", gguf::Value::u32(256));
        w_.set(a + ".embedding_length", gguf::Value::u32(static_cast<uint32_t>(s_.n_embd)));
        w_.set(a + ".block_count", gguf::Value::u32(static_cast<uint32_t>(s_.n_layer)));
        w_.set(a + ".feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s_.n_ff)));
        w_.set(a + ".attention.head_count", gguf::Value::u32(static_cast<uint32_t>(s_.n_head)));
        w_.set(a + ".attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(s_.n_head_kv)));
        w_.set(a + ".attention.key_length", gguf::Value::u32(static_cast<uint32_t>(s_.head_dim)));
        w_.set(a + ".attention.value_length", gguf::Value::u32(static_cast<uint32_t>(s_.head_dim)));
        w_.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
        w_.set(a + ".rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(s_.head_dim)));
        w_.set(a + ".rope.freq_base", gguf::Value::f32(10000.0f));
        if (s_.n_expert > 0) {
            w_.set(a + ".expert_count", gguf::Value::u32(static_cast<uint32_t>(s_.n_expert)));
            w_.set(a + ".expert_used_count", gguf::Value::u32(static_cast<uint32_t>(s_.n_expert_used)));
        }
        if (a == "gemma2") {
            w_.set(a + ".attn_logit_softcapping", gguf::Value::f32(50.0f));
            w_.set(a + ".final_logit_softcapping", gguf::Value::f32(30.0f));
            w_.set(a + ".attention.sliding_window", gguf::Value::u32(5));
        }
        if (s_.vocab) add_vocab();
        const int64_t q = s_.n_head * s_.head_dim, kv = s_.n_head_kv * s_.head_dim, e = s_.n_embd;
        RF_TRY(matrix(TensorName::TokenEmbd, -1, e, s_.n_vocab, 1.0f));
        RF_TRY(vector(TensorName::OutputNorm, -1, e, 1.0f));
        if (!s_.tied) RF_TRY(matrix(TensorName::Output, -1, e, s_.n_vocab, 0.3f));
        for (int64_t l = 0; l < s_.n_layer; ++l) {
            RF_TRY(vector(TensorName::AttnNorm, l, e, 1.0f));
            RF_TRY(vector(TensorName::FfnNorm, l, e, 1.0f));
            if (a == "phi3") {
                RF_TRY(matrix(TensorName::AttnQkv, l, e, q + 2 * kv));
                RF_TRY(matrix(TensorName::FfnUp, l, e, 2 * s_.n_ff));
            } else {
                RF_TRY(matrix(TensorName::AttnQ, l, e, q));
                RF_TRY(matrix(TensorName::AttnK, l, e, kv));
                RF_TRY(matrix(TensorName::AttnV, l, e, kv));
            }
            RF_TRY(matrix(TensorName::AttnOut, l, q, e));
            if (a == "qwen2") {
                RF_TRY(vector(TensorName::AttnQBias, l, q, 0.0f));
                RF_TRY(vector(TensorName::AttnKBias, l, kv, 0.0f));
                RF_TRY(vector(TensorName::AttnVBias, l, kv, 0.0f));
            }
            if (a == "qwen3") {
                RF_TRY(vector(TensorName::AttnQNorm, l, s_.head_dim, 1.0f));
                RF_TRY(vector(TensorName::AttnKNorm, l, s_.head_dim, 1.0f));
            }
            if (a == "gemma2") {
                RF_TRY(vector(TensorName::PostAttnNorm, l, e, 1.0f));
                RF_TRY(vector(TensorName::PostFfnNorm, l, e, 1.0f));
            }
            if (s_.n_expert > 0) {
                RF_TRY(matrix(TensorName::FfnGateInp, l, e, s_.n_expert, 0.3f, TensorType::F32));
                RF_TRY(stacked(TensorName::FfnGateExps, l, e, s_.n_ff));
                RF_TRY(stacked(TensorName::FfnUpExps, l, e, s_.n_ff));
                RF_TRY(stacked(TensorName::FfnDownExps, l, s_.n_ff, e));
            } else if (a != "phi3") {
                RF_TRY(matrix(TensorName::FfnGate, l, e, s_.n_ff));
                RF_TRY(matrix(TensorName::FfnUp, l, e, s_.n_ff));
            }
            if (s_.n_expert == 0) RF_TRY(matrix(TensorName::FfnDown, l, s_.n_ff, e));
        }
        return w_.to_bytes();
    }

    gguf::Writer& writer() { return w_; }

private:
    void add_vocab() {
        std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
        std::vector<int32_t> types = {2, 3, 3};
        for (int b = 0; b < 256 && static_cast<int64_t>(tokens.size()) < s_.n_vocab; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            tokens.push_back(name);
            types.push_back(6);
        }
        for (char c = 'a'; static_cast<int64_t>(tokens.size()) < s_.n_vocab; c = c == 'z' ? 'a' : c + 1) {
            tokens.push_back(std::string("\xE2\x96\x81") + c + std::to_string(tokens.size()));
            types.push_back(1);
        }
        std::vector<float> scores(tokens.size(), 0.0f);
        w_.set("tokenizer.ggml.model", gguf::Value::string("llama"));
        w_.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
        w_.set("tokenizer.ggml.scores", gguf::Value::f32_array(scores));
        w_.set("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
        w_.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
        w_.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
        w_.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(0));
    }
    Status add(const std::string& name, TensorType type, std::vector<uint64_t> shape, const std::vector<float>& v) {
        auto bytes = quant::quantized_size(type, v.size());
        if (!bytes.ok()) return bytes.error();
        std::vector<uint8_t> data(*bytes);
        RF_TRY(quant::quantize_row(type, v, data));
        return w_.add_tensor(name, type, std::move(shape), std::move(data));
    }
    std::vector<float> random(int64_t n, float scale) {
        std::normal_distribution<float> dist(0.0f, scale);
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v) x = dist(rng_);
        return v;
    }
    Status matrix(model::TensorName t, int64_t layer, int64_t cols, int64_t rows, float scale = 0.0f,
                  std::optional<TensorType> type = {}) {
        if (scale == 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(cols));
        return add(model::tensor_name(t, layer), type.value_or(s_.type),
                   {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, random(cols * rows, scale));
    }
    Status stacked(model::TensorName t, int64_t layer, int64_t cols, int64_t rows) {
        const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
        return add(model::tensor_name(t, layer), s_.type,
                   {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows), static_cast<uint64_t>(s_.n_expert)},
                   random(cols * rows * s_.n_expert, scale));
    }
    Status vector(model::TensorName t, int64_t layer, int64_t n, float center) {
        std::vector<float> v = random(n, 0.1f);
        for (float& x : v) x += center;
        return add(model::tensor_name(t, layer), TensorType::F32, {static_cast<uint64_t>(n)}, v);
    }

    SyntheticShape s_;
    std::mt19937_64 rng_;
    gguf::Writer w_;
};

}  // namespace rf::test
