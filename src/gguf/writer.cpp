#include "gguf/writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/checked_math.h"
#include "gguf/reader.h"

namespace rf::gguf {
namespace {

class ByteSink {
public:
    template <typename T>
    void put(T value) {
        const auto* p = reinterpret_cast<const uint8_t*>(&value);
        bytes.insert(bytes.end(), p, p + sizeof(T));
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
    }
    void pad_to(uint64_t alignment) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
    }
    std::vector<uint8_t> bytes;
};

void put_value(ByteSink& out, const Value& v) {
    switch (v.type()) {
        case ValueType::UINT8: out.put<uint8_t>(static_cast<uint8_t>(*v.as_uint())); break;
        case ValueType::INT8: out.put<int8_t>(static_cast<int8_t>(*v.as_int())); break;
        case ValueType::UINT16: out.put<uint16_t>(static_cast<uint16_t>(*v.as_uint())); break;
        case ValueType::INT16: out.put<int16_t>(static_cast<int16_t>(*v.as_int())); break;
        case ValueType::UINT32: out.put<uint32_t>(static_cast<uint32_t>(*v.as_uint())); break;
        case ValueType::INT32: out.put<int32_t>(static_cast<int32_t>(*v.as_int())); break;
        case ValueType::UINT64: out.put<uint64_t>(*v.as_uint()); break;
        case ValueType::INT64: out.put<int64_t>(*v.as_int()); break;
        case ValueType::FLOAT32: out.put<float>(static_cast<float>(*v.as_float())); break;
        case ValueType::FLOAT64: out.put<double>(*v.as_float()); break;
        case ValueType::BOOL: out.put<uint8_t>(*v.as_bool() ? 1 : 0); break;
        case ValueType::STRING: out.put_string(*v.as_string()); break;
        case ValueType::ARRAY:
            out.put<uint32_t>(static_cast<uint32_t>(v.element_type()));
            out.put<uint64_t>(v.as_array()->size());
            for (const Value& item : *v.as_array()) put_value(out, item);
            break;
    }
}

}  // namespace

void Writer::set(const std::string& key, Value value) {
    for (auto& [k, v] : metadata_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(key, std::move(value));
}

Status Writer::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> shape,
                          std::vector<uint8_t> data) {
    for (const auto& t : tensors_) {
        if (t.name == name) return make_error("tensor '{}' added twice", name);
    }
    if (shape.empty() || shape.size() > 4) return make_error("tensor '{}': 1 to 4 dimensions required", name);
    uint64_t n_elements = 1;
    for (uint64_t d : shape) {
        auto p = checked_mul(n_elements, d);
        if (d == 0 || !p) return make_error("tensor '{}': invalid shape", name);
        n_elements = *p;
    }
    if (shape[0] % tensor_type_info(type).block_size != 0) {
        return make_error("tensor '{}': row length {} is not a multiple of the {} block size", name, shape[0],
                          tensor_type_name(type));
    }
    auto expected = tensor_bytes(type, n_elements);
    if (!expected || *expected != data.size()) {
        return make_error("tensor '{}': {} bytes given, {} expected for {} {}", name, data.size(),
                          expected.value_or(0), n_elements, tensor_type_name(type));
    }
    tensors_.push_back({name, type, std::move(shape), std::move(data)});
    return ok_status();
}

uint32_t Writer::alignment() const {
    for (const auto& [k, v] : metadata_) {
        if (k == "general.alignment" && v.as_uint()) return static_cast<uint32_t>(*v.as_uint());
    }
    return kDefaultAlignment;
}

// Everything before the data section: header, metadata, tensor infos and padding.
Result<std::vector<uint8_t>> Writer::header_bytes() const {
    const uint64_t align = alignment();
    if (align == 0 || (align & (align - 1)) != 0) return make_error("general.alignment must be a power of two");
    ByteSink out;
    out.put<uint32_t>(kMagic);
    out.put<uint32_t>(3);
    out.put<uint64_t>(tensors_.size());
    out.put<uint64_t>(metadata_.size());
    for (const auto& [key, value] : metadata_) {
        out.put_string(key);
        out.put<uint32_t>(static_cast<uint32_t>(value.type()));
        put_value(out, value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        out.put_string(t.name);
        out.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (uint64_t d : t.shape) out.put<uint64_t>(d);
        out.put<uint32_t>(static_cast<uint32_t>(t.type));
        out.put<uint64_t>(offset);
        offset = *checked_align_up(offset + t.data.size(), align);
    }
    out.pad_to(align);
    return std::move(out.bytes);
}

Result<std::vector<uint8_t>> Writer::to_bytes() const {
    RF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, header_bytes());
    for (const auto& t : tensors_) {
        bytes.insert(bytes.end(), t.data.begin(), t.data.end());
        bytes.resize(*checked_align_up(bytes.size(), alignment()), 0);
    }
    return bytes;
}

Status Writer::write_file(const std::string& path) const {
    RF_ASSIGN_OR_RETURN(std::vector<uint8_t> header, header_bytes());
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) return make_error("{}: cannot open for writing: {}", tmp, std::strerror(errno));
        auto write = [&f](const uint8_t* p, size_t n) { f.write(reinterpret_cast<const char*>(p), std::streamsize(n)); };
        write(header.data(), header.size());
        const std::vector<uint8_t> zeros(alignment(), 0);
        for (const auto& t : tensors_) {  // streamed: a large model is never copied whole
            write(t.data.data(), t.data.size());
            write(zeros.data(), *checked_align_up(t.data.size(), alignment()) - t.data.size());
        }
        if (!f.flush()) return make_error("{}: write failed: {}", tmp, std::strerror(errno));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return make_error("{}: cannot rename to {}: {}", tmp, path, ec.message());
    return ok_status();
}

}  // namespace rf::gguf
