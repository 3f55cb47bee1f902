// rocmforge-export-demo: turns the demo model's training output (tools/demo_model/train.py:
// manifest.json + weights-N.bin shards of raw f32 tensors in ggml layout) and its tokenizer
// (tools/demo_model/train_tokenizer.py: tokenizer.json) into a complete llama GGUF file (issue 20).
//
//   rocmforge-export-demo --weights DIR --tokenizer tokenizer.json --out demo-f32.gguf
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"

namespace {

using nlohmann::json;
using rf::gguf::Value;

struct Options {
    std::string weights;    // folder with manifest.json and its shards
    std::string tokenizer;  // tokenizer.json
    std::string out;
    std::string name = "rocmforge-demo-shakespeare";
};

rf::Result<std::vector<uint8_t>> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return rf::make_error("cannot open {}", path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return rf::make_error("cannot read {}", path);
    return bytes;
}

rf::Result<json> read_json(const std::string& path) {
    RF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_bytes(path));
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return rf::make_error("{} is not a JSON object", path);
    return j;
}

// Reads `j[key]` as T, or an error naming the file and the key (never an exception).
template <typename T>
rf::Result<T> field(const json& j, const std::string& key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end()) return rf::make_error("{}: '{}' is missing", where, key);
    try {
        return it->template get<T>();
    } catch (const json::exception&) {
        return rf::make_error("{}: '{}' has the wrong type", where, key);
    }
}

rf::Status add_hparams(rf::gguf::Writer& w, const json& manifest, const std::string& where) {
    const json& m = manifest.value("model", json::object());
    RF_ASSIGN_OR_RETURN(uint32_t n_ctx, field<uint32_t>(m, "n_ctx", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_embd, field<uint32_t>(m, "n_embd", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_layer, field<uint32_t>(m, "n_layer", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_head, field<uint32_t>(m, "n_head", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_head_kv, field<uint32_t>(m, "n_head_kv", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_ff, field<uint32_t>(m, "n_ff", where));
    RF_ASSIGN_OR_RETURN(uint32_t n_vocab, field<uint32_t>(m, "n_vocab", where));
    RF_ASSIGN_OR_RETURN(double eps, field<double>(m, "norm_eps", where));
    RF_ASSIGN_OR_RETURN(double rope_base, field<double>(m, "rope_freq_base", where));
    if (n_head == 0 || n_embd % n_head != 0 || n_head_kv == 0 || n_head % n_head_kv != 0)
        return rf::make_error("{}: {} heads ({} KV heads) do not divide a width of {}", where, n_head, n_head_kv, n_embd);
    const uint32_t head_dim = n_embd / n_head;
    w.set("llama.vocab_size", Value::u32(n_vocab));
    w.set("llama.context_length", Value::u32(n_ctx));
    w.set("llama.embedding_length", Value::u32(n_embd));
    w.set("llama.block_count", Value::u32(n_layer));
    w.set("llama.feed_forward_length", Value::u32(n_ff));
    w.set("llama.attention.head_count", Value::u32(n_head));
    w.set("llama.attention.head_count_kv", Value::u32(n_head_kv));
    w.set("llama.attention.layer_norm_rms_epsilon", Value::f32(static_cast<float>(eps)));
    w.set("llama.rope.freq_base", Value::f32(static_cast<float>(rope_base)));
    w.set("llama.rope.dimension_count", Value::u32(head_dim));
    return rf::ok_status();
}

rf::Status add_tokenizer(rf::gguf::Writer& w, const std::string& path) {
    RF_ASSIGN_OR_RETURN(json t, read_json(path));
    RF_ASSIGN_OR_RETURN(auto tokens, field<std::vector<std::string>>(t, "tokens", path));
    RF_ASSIGN_OR_RETURN(auto types, field<std::vector<int32_t>>(t, "token_types", path));
    RF_ASSIGN_OR_RETURN(auto merges, field<std::vector<std::string>>(t, "merges", path));
    if (types.size() != tokens.size())
        return rf::make_error("{}: {} tokens but {} token types", path, tokens.size(), types.size());
    w.set("tokenizer.ggml.model", Value::string(t.value("model", "gpt2")));
    w.set("tokenizer.ggml.pre", Value::string(t.value("pre", "gpt-2")));
    w.set("tokenizer.ggml.tokens", Value::string_array(tokens));
    w.set("tokenizer.ggml.token_type", Value::i32_array(types));
    w.set("tokenizer.ggml.merges", Value::string_array(merges));
    for (const char* key : {"bos_token_id", "eos_token_id", "eot_token_id"}) {
        if (!t.contains(key)) continue;
        RF_ASSIGN_OR_RETURN(uint32_t id, field<uint32_t>(t, key, path));
        if (id >= tokens.size()) return rf::make_error("{}: {} {} is outside the vocabulary", path, key, id);
        w.set(std::string("tokenizer.ggml.") + key, Value::u32(id));
    }
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(t.value("add_bos_token", true)));
    w.set("tokenizer.ggml.add_eos_token", Value::boolean(false));
    if (t.contains("chat_template")) {
        RF_ASSIGN_OR_RETURN(std::string chat, field<std::string>(t, "chat_template", path));
        w.set("tokenizer.chat_template", Value::string(chat));
    }
    return rf::ok_status();
}

rf::Status add_tensors(rf::gguf::Writer& w, const json& manifest, const std::string& dir, const std::string& where) {
    RF_ASSIGN_OR_RETURN(auto shard_names, field<std::vector<std::string>>(manifest, "shards", where));
    std::vector<std::vector<uint8_t>> shards;
    for (const std::string& name : shard_names) {
        if (name.find('/') != std::string::npos) return rf::make_error("{}: shard '{}' is not a file name", where, name);
        RF_ASSIGN_OR_RETURN(auto bytes, read_bytes(dir + "/" + name));
        shards.push_back(std::move(bytes));
    }
    auto it = manifest.find("tensors");
    if (it == manifest.end() || !it->is_array() || it->empty()) return rf::make_error("{}: no 'tensors'", where);
    for (const json& t : *it) {
        RF_ASSIGN_OR_RETURN(std::string name, field<std::string>(t, "name", where));
        const std::string at = fmt::format("{} tensor {}", where, name);
        RF_ASSIGN_OR_RETURN(auto shape, field<std::vector<uint64_t>>(t, "ggml_shape", at));
        RF_ASSIGN_OR_RETURN(std::string dtype, field<std::string>(t, "dtype", at));
        RF_ASSIGN_OR_RETURN(size_t shard, field<size_t>(t, "shard", at));
        RF_ASSIGN_OR_RETURN(uint64_t offset, field<uint64_t>(t, "offset", at));
        RF_ASSIGN_OR_RETURN(uint64_t size, field<uint64_t>(t, "bytes", at));
        if (dtype != "f32") return rf::make_error("{}: dtype '{}' (only f32 is written)", at, dtype);
        uint64_t elements = 1;
        for (uint64_t d : shape) {
            if (d == 0 || d > (uint64_t{1} << 32)) return rf::make_error("{}: dimension {} is not usable", at, d);
            elements *= d;
        }
        if (shape.empty() || shape.size() > 4 || elements * 4 != size)
            return rf::make_error("{}: shape of {} elements does not match {} bytes", at, elements, size);
        if (shard >= shards.size() || offset > shards[shard].size() || size > shards[shard].size() - offset)
            return rf::make_error("{}: bytes {}+{} lie outside shard {}", at, offset, size, shard);
        const auto* begin = shards[shard].data() + offset;
        RF_TRY(w.add_tensor(name, rf::TensorType::F32, shape, std::vector<uint8_t>(begin, begin + size)));
    }
    return rf::ok_status();
}

rf::Status run(const Options& o) {
    const std::string manifest_path = o.weights + "/manifest.json";
    RF_ASSIGN_OR_RETURN(json manifest, read_json(manifest_path));
    if (manifest.value("architecture", "") != "llama")
        return rf::make_error("{}: architecture must be llama", manifest_path);
    rf::gguf::Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set("general.name", Value::string(o.name));
    w.set("general.description",
          Value::string("ROCmForge's demo model: a small llama trained on tinyshakespeare (tools/demo_model)"));
    w.set("general.file_type", Value::u32(0));  // all F32
    RF_TRY(add_hparams(w, manifest, manifest_path));
    RF_TRY(add_tokenizer(w, o.tokenizer));
    RF_TRY(add_tensors(w, manifest, o.weights, manifest_path));
    return w.write_file(o.out);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"Write the demo model's GGUF from its training output and tokenizer"};
    app.add_option("--weights", o.weights, "folder with manifest.json and its weight shards")->required();
    app.add_option("--tokenizer", o.tokenizer, "tokenizer.json written by train_tokenizer.py")->required();
    app.add_option("--out", o.out, "GGUF file to write")->required();
    app.add_option("--name", o.name, "general.name");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    rf::Status st = rf::ok_status();
    try {
        st = run(o);
    } catch (const nlohmann::json::exception& e) {  // a field of the wrong type read through value()
        st = rf::make_error("malformed JSON input: {}", e.what());
    }
    if (!st) {
        fmt::print(stderr, "error: {}\n", st.error().message);
        return 1;
    }
    fmt::print("wrote {}\n", o.out);
    return 0;
}
