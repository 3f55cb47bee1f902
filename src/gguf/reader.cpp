#include "gguf/reader.h"

#include <algorithm>
#include <cstring>

#include "core/checked_math.h"
#include "core/utf8.h"

namespace rf::gguf {
namespace {

// Limits that keep a hostile file from forcing deep recursion or absurd shapes.
constexpr int kMaxArrayNesting = 8;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kMaxAlignment = 1u << 20;

// Reads little-endian values from untrusted bytes; every read is bounds-checked and every error
// names the file and the byte offset where the problem starts.
class Cursor {
public:
    Cursor(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return bytes_.size() - pos_; }

    template <typename... Args>
    Error error_at(uint64_t offset, fmt::format_string<Args...> format, Args&&... args) const {
        return make_error("{}: at byte {}: {}", name_, offset,
                          fmt::format(format, std::forward<Args>(args)...));
    }

    template <typename T>
    Result<T> read(std::string_view what) {
        if (remaining() < sizeof(T)) {
            return error_at(pos_, "file truncated while reading {} ({} bytes needed, {} left)", what,
                            sizeof(T), remaining());
        }
        T value;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    Result<std::string> read_string(std::string_view what) {
        uint64_t start = pos_;
        RF_ASSIGN_OR_RETURN(uint64_t length, read<uint64_t>(what));
        if (length > remaining()) {
            return error_at(start, "{} claims {} bytes but only {} remain", what, length, remaining());
        }
        std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
        if (!is_valid_utf8(text)) return error_at(start, "{} is not valid UTF-8", what);
        pos_ += length;
        return text;
    }

private:
    std::span<const uint8_t> bytes_;
    const std::string& name_;
    uint64_t pos_ = 0;
};

// Smallest encoding of one value of `type`, to reject counts the file cannot possibly hold.
uint64_t min_encoded_size(ValueType type) {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        case ValueType::STRING: return 8;
        case ValueType::ARRAY: return 12;
    }
    return 1;
}

Result<Value> read_value(Cursor& cur, ValueType type, std::string_view key, int depth);

Result<Value> read_array(Cursor& cur, std::string_view key, int depth) {
    uint64_t start = cur.pos();
    if (depth >= kMaxArrayNesting) return cur.error_at(start, "key '{}': arrays nested too deeply", key);
    RF_ASSIGN_OR_RETURN(uint32_t raw_type, cur.read<uint32_t>("array element type"));
    if (!is_valid_value_type(raw_type)) {
        return cur.error_at(start, "key '{}': unknown array element type {}", key, raw_type);
    }
    auto element_type = static_cast<ValueType>(raw_type);
    RF_ASSIGN_OR_RETURN(uint64_t count, cur.read<uint64_t>("array length"));
    auto needed = checked_mul(count, min_encoded_size(element_type));
    if (!needed || *needed > cur.remaining()) {
        return cur.error_at(start, "key '{}': array of {} {} does not fit in the {} bytes left", key,
                            count, value_type_name(element_type), cur.remaining());
    }
    std::vector<Value> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        RF_ASSIGN_OR_RETURN(Value item, read_value(cur, element_type, key, depth + 1));
        items.push_back(std::move(item));
    }
    return Value::array(element_type, std::move(items));
}

Result<Value> read_value(Cursor& cur, ValueType type, std::string_view key, int depth) {
    switch (type) {
        case ValueType::UINT8: { RF_ASSIGN_OR_RETURN(auto v, cur.read<uint8_t>(key)); return Value::u8(v); }
        case ValueType::INT8: { RF_ASSIGN_OR_RETURN(auto v, cur.read<int8_t>(key)); return Value::i8(v); }
        case ValueType::UINT16: { RF_ASSIGN_OR_RETURN(auto v, cur.read<uint16_t>(key)); return Value::u16(v); }
        case ValueType::INT16: { RF_ASSIGN_OR_RETURN(auto v, cur.read<int16_t>(key)); return Value::i16(v); }
        case ValueType::UINT32: { RF_ASSIGN_OR_RETURN(auto v, cur.read<uint32_t>(key)); return Value::u32(v); }
        case ValueType::INT32: { RF_ASSIGN_OR_RETURN(auto v, cur.read<int32_t>(key)); return Value::i32(v); }
        case ValueType::UINT64: { RF_ASSIGN_OR_RETURN(auto v, cur.read<uint64_t>(key)); return Value::u64(v); }
        case ValueType::INT64: { RF_ASSIGN_OR_RETURN(auto v, cur.read<int64_t>(key)); return Value::i64(v); }
        case ValueType::FLOAT32: { RF_ASSIGN_OR_RETURN(auto v, cur.read<float>(key)); return Value::f32(v); }
        case ValueType::FLOAT64: { RF_ASSIGN_OR_RETURN(auto v, cur.read<double>(key)); return Value::f64(v); }
        case ValueType::BOOL: {
            uint64_t at = cur.pos();
            RF_ASSIGN_OR_RETURN(auto v, cur.read<uint8_t>(key));
            if (v > 1) return cur.error_at(at, "key '{}': bool value {} is neither 0 nor 1", key, v);
            return Value::boolean(v != 0);
        }
        case ValueType::STRING: {
            RF_ASSIGN_OR_RETURN(auto s, cur.read_string(fmt::format("string value of '{}'", key)));
            return Value::string(std::move(s));
        }
        case ValueType::ARRAY: return read_array(cur, key, depth);
    }
    return cur.error_at(cur.pos(), "key '{}': unknown value type", key);
}

}  // namespace

Result<File> File::open(const std::string& path, FileLoad load, const MappedFile::Progress& progress) {
    size_t data_offset = 0;
    if (load == FileLoad::Copy) {
        // The tensors start on a 32-byte boundary of the file; read into memory, they go on a
        // 64-byte one, so that the kernels' 64-byte loads of a tile stay within a cache line.
        // Finding the offset means parsing the header (from a mapping) twice.
        RF_ASSIGN_OR_RETURN(const File mapped, open(path, FileLoad::Map));
        data_offset = mapped.data_offset();
    }
    RF_ASSIGN_OR_RETURN(MappedFile mapping, MappedFile::open(path, load, progress, data_offset));
    File file;
    file.mapping_ = std::move(mapping);
    file.bytes_ = file.mapping_.bytes();
    file.name_ = path;
    RF_TRY(file.parse_all());
    return file;
}

Result<File> File::parse(std::span<const uint8_t> bytes, std::string name) {
    File file;
    file.bytes_ = bytes;
    file.name_ = std::move(name);
    RF_TRY(file.parse_all());
    return file;
}

Status File::parse_all() {
    Cursor cur(bytes_, name_);
    RF_ASSIGN_OR_RETURN(uint32_t magic, cur.read<uint32_t>("magic"));
    if (magic != kMagic) return cur.error_at(0, "not a GGUF file (bad magic 0x{:08x})", magic);
    RF_ASSIGN_OR_RETURN(version_, cur.read<uint32_t>("version"));
    if (version_ != 2 && version_ != 3) {
        return cur.error_at(4, "unsupported GGUF version {} (supported: 2, 3)", version_);
    }
    RF_ASSIGN_OR_RETURN(uint64_t n_tensors, cur.read<uint64_t>("tensor count"));
    RF_ASSIGN_OR_RETURN(uint64_t n_kv, cur.read<uint64_t>("metadata count"));
    // Each key-value pair needs at least 8 (key length) + 4 (type) + 1 bytes.
    if (n_kv > cur.remaining() / 13) {
        return cur.error_at(16, "metadata count {} cannot fit in a {}-byte file", n_kv, bytes_.size());
    }

    metadata_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        uint64_t at = cur.pos();
        RF_ASSIGN_OR_RETURN(std::string key, cur.read_string("metadata key"));
        if (key.empty()) return cur.error_at(at, "empty metadata key");
        if (metadata_index_.count(key)) return cur.error_at(at, "duplicate metadata key '{}'", key);
        uint64_t type_at = cur.pos();
        RF_ASSIGN_OR_RETURN(uint32_t raw_type, cur.read<uint32_t>("value type"));
        if (!is_valid_value_type(raw_type)) {
            return cur.error_at(type_at, "key '{}': unknown value type {}", key, raw_type);
        }
        RF_ASSIGN_OR_RETURN(Value value, read_value(cur, static_cast<ValueType>(raw_type), key, 0));
        metadata_index_.emplace(key, metadata_.size());
        metadata_.push_back({std::move(key), std::move(value)});
    }

    if (const Value* align = find("general.alignment")) {
        auto a = align->as_uint();
        if (align->type() != ValueType::UINT32 || !a || *a == 0 || (*a & (*a - 1)) != 0 || *a > kMaxAlignment) {
            return make_error("{}: general.alignment must be a u32 power of two up to {}, got {}", name_,
                              kMaxAlignment, align->to_display_string());
        }
        alignment_ = static_cast<uint32_t>(*a);
    }

    // Each tensor info needs at least 8 (name length) + 4 (dims) + 8 (one dim) + 4 (type) + 8 (offset).
    if (n_tensors > cur.remaining() / 32) {
        return cur.error_at(cur.pos(), "tensor count {} cannot fit in a {}-byte file", n_tensors, bytes_.size());
    }
    tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        uint64_t at = cur.pos();
        TensorInfo info;
        RF_ASSIGN_OR_RETURN(info.name, cur.read_string("tensor name"));
        if (tensor_index_.count(info.name)) return cur.error_at(at, "duplicate tensor '{}'", info.name);
        RF_ASSIGN_OR_RETURN(uint32_t n_dims, cur.read<uint32_t>("tensor dimension count"));
        if (n_dims == 0 || n_dims > kMaxDims) {
            return cur.error_at(at, "tensor '{}' has {} dimensions (1..{} allowed)", info.name, n_dims, kMaxDims);
        }
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            RF_ASSIGN_OR_RETURN(uint64_t dim, cur.read<uint64_t>("tensor dimension"));
            auto product = checked_mul(n_elements, dim);
            if (dim == 0 || !product || *product > (uint64_t{1} << 62)) {
                return cur.error_at(at, "tensor '{}' has an invalid shape (dimension {} = {})", info.name, d, dim);
            }
            n_elements = *product;
            info.shape.push_back(dim);
        }
        uint64_t type_at = cur.pos();
        RF_ASSIGN_OR_RETURN(uint32_t raw_type, cur.read<uint32_t>("tensor type"));
        const TensorTypeInfo* type_info = tensor_type_info(raw_type);
        if (!type_info) return cur.error_at(type_at, "tensor '{}' has unknown type id {}", info.name, raw_type);
        info.type = type_info->type;
        if (info.shape[0] % type_info->block_size != 0) {
            return cur.error_at(at, "tensor '{}': row length {} is not a multiple of {}'s block size {}",
                                info.name, info.shape[0], type_info->name, type_info->block_size);
        }
        info.n_elements = n_elements;
        // The 2^62 elements allowed above, of a 4- or 8-byte type (F32, I32, I64, F64), can need 2^64 bytes or more.
        auto n_bytes = tensor_bytes(info.type, n_elements);
        if (!n_bytes) {
            return cur.error_at(at, "tensor '{}': {} elements of {} overflow a 64-bit byte size", info.name,
                                n_elements, type_info->name);
        }
        info.n_bytes = *n_bytes;
        RF_ASSIGN_OR_RETURN(info.offset, cur.read<uint64_t>("tensor data offset"));
        if (info.offset % alignment_ != 0) {
            return cur.error_at(at, "tensor '{}': data offset {} is not a multiple of the alignment {}",
                                info.name, info.offset, alignment_);
        }
        tensor_index_.emplace(info.name, tensors_.size());
        tensors_.push_back(std::move(info));
    }

    auto data_start = checked_align_up(cur.pos(), alignment_);
    if (!data_start) return cur.error_at(cur.pos(), "data section offset overflows");
    // Vocabulary-only files may end without the padding before an (empty) data section.
    data_offset_ = tensors_.empty() ? std::min<uint64_t>(*data_start, bytes_.size()) : *data_start;
    if (tensors_.empty()) return ok_status();
    if (data_offset_ > bytes_.size()) {
        return cur.error_at(cur.pos(), "file truncated before its data section (needs {} bytes, has {})",
                            data_offset_, bytes_.size());
    }

    uint64_t data_size = bytes_.size() - data_offset_;
    std::vector<const TensorInfo*> by_offset;
    for (TensorInfo& t : tensors_) {
        auto end = checked_add(t.offset, t.n_bytes);
        if (!end || *end > data_size) {
            return make_error("{}: tensor '{}' ({} bytes at data offset {}) extends past the end of the file "
                              "(data section holds {} bytes)", name_, t.name, t.n_bytes, t.offset, data_size);
        }
        t.data = bytes_.data() + data_offset_ + t.offset;
        by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorInfo& prev = *by_offset[i - 1];
        if (prev.offset + prev.n_bytes > by_offset[i]->offset) {
            return make_error("{}: tensors '{}' and '{}' overlap at data offset {}", name_, prev.name,
                              by_offset[i]->name, by_offset[i]->offset);
        }
    }
    return ok_status();
}

const Value* File::find(std::string_view key) const {
    auto it = metadata_index_.find(std::string(key));
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string File::architecture() const {
    const Value* v = find("general.architecture");
    return v && v->as_string() ? *v->as_string() : std::string();
}

}  // namespace rf::gguf
