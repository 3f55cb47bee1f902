#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "gguf/reader.h"
#include "gguf/writer.h"

namespace rf::gguf {
namespace {

TEST(GgufWriter, RoundTripsEveryValueType) {
    Writer w;
    w.set("u8", Value::u8(250));
    w.set("i8", Value::i8(-100));
    w.set("u16", Value::u16(65000));
    w.set("i16", Value::i16(-32000));
    w.set("u32", Value::u32(4000000000u));
    w.set("i32", Value::i32(-2000000000));
    w.set("u64", Value::u64(~uint64_t{0}));
    w.set("i64", Value::i64(-(int64_t{1} << 62)));
    w.set("f32", Value::f32(1.5f));
    w.set("f64", Value::f64(-2.25));
    w.set("bool", Value::boolean(true));
    w.set("str", Value::string("héllo ✓"));
    w.set("strings", Value::string_array({"a", "", "ü"}));
    w.set("empty", Value::array(ValueType::INT32, {}));
    w.set("nested", Value::array(ValueType::ARRAY, {Value::i32_array({1, 2}), Value::i32_array({3})}));
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto file = File::parse(*bytes, "mem");
    ASSERT_TRUE(file.ok()) << file.error().message;

    ASSERT_EQ(file->metadata().size(), 15u);
    EXPECT_EQ(file->metadata()[0].key, "u8");  // file order kept
    EXPECT_EQ(*file->get_uint("u8"), 250u);
    EXPECT_EQ(*file->get_int("i8"), -100);
    EXPECT_EQ(*file->get_uint("u16"), 65000u);
    EXPECT_EQ(*file->get_int("i16"), -32000);
    EXPECT_EQ(*file->get_uint("u32"), 4000000000u);
    EXPECT_EQ(*file->get_int("i32"), -2000000000);
    EXPECT_EQ(*file->get_uint("u64"), ~uint64_t{0});
    EXPECT_EQ(*file->get_int("i64"), -(int64_t{1} << 62));
    EXPECT_EQ(*file->get_float("f32"), 1.5);
    EXPECT_EQ(*file->get_float("f64"), -2.25);
    EXPECT_EQ(*file->get_bool("bool"), true);
    EXPECT_EQ(*file->get_string("str"), "héllo ✓");
    EXPECT_EQ(*file->get_string_array("strings"), (std::vector<std::string>{"a", "", "ü"}));
    EXPECT_TRUE(file->get_i32_array("empty")->empty());
    EXPECT_EQ(file->find("empty")->element_type(), ValueType::INT32);
    const auto* nested = file->find("nested")->as_array();
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->size(), 2u);
    EXPECT_EQ(*nested->at(0).as_array(), *Value::i32_array({1, 2}).as_array());
    for (const auto& entry : file->metadata()) {
        EXPECT_EQ(entry.value, *file->find(entry.key)) << entry.key;
    }
}

TEST(GgufWriter, TypedAccessorsExplainMismatches) {
    Writer w;
    w.set("name", Value::string("x"));
    w.set("neg", Value::i32(-1));
    auto bytes = w.to_bytes();
    auto file = File::parse(*bytes, "mem.gguf");
    ASSERT_TRUE(file.ok());
    auto missing = file->get_uint("absent");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("'absent' is missing"), std::string::npos);
    auto wrong = file->get_uint("name");
    ASSERT_FALSE(wrong.ok());
    EXPECT_NE(wrong.error().message.find("should be a non-negative integer, found string"), std::string::npos)
        << wrong.error().message;
    EXPECT_FALSE(file->get_uint("neg").ok());
    EXPECT_EQ(*file->get_int("neg"), -1);
    EXPECT_EQ(*file->get_uint_or("absent", 7), 7u);
    EXPECT_FALSE(file->get_uint_or("name", 7).ok());  // present but mistyped stays an error
    EXPECT_EQ(*file->get_string_or("absent", "d"), "d");
}

TEST(GgufWriter, TensorsKeepShapeTypeAndBytesWithCustomAlignment) {
    Writer w;
    w.set("general.alignment", Value::u32(64));
    std::vector<uint8_t> a(3 * 2 * 2), b(2 * 18);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(200 - i);
    ASSERT_TRUE(w.add_tensor("a", TensorType::F16, {3, 2}, a).ok());
    ASSERT_TRUE(w.add_tensor("b", TensorType::Q4_0, {32, 2}, b).ok());
    auto path = (std::filesystem::temp_directory_path() / "rf_writer_test.gguf").string();
    ASSERT_TRUE(w.write_file(path).ok());
    auto file = File::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->alignment(), 64u);
    EXPECT_EQ(file->data_offset() % 64, 0u);
    const TensorInfo* ta = file->find_tensor("a");
    const TensorInfo* tb = file->find_tensor("b");
    ASSERT_TRUE(ta && tb);
    EXPECT_EQ(ta->shape, (std::vector<uint64_t>{3, 2}));
    EXPECT_EQ(tb->offset % 64, 0u);
    EXPECT_EQ(std::vector<uint8_t>(ta->data, ta->data + ta->n_bytes), a);
    EXPECT_EQ(std::vector<uint8_t>(tb->data, tb->data + tb->n_bytes), b);
    std::filesystem::remove(path);
}

TEST(GgufWriter, RejectsInconsistentTensors) {
    Writer w;
    EXPECT_FALSE(w.add_tensor("t", TensorType::F32, {4}, std::vector<uint8_t>(15)).ok());
    EXPECT_FALSE(w.add_tensor("t", TensorType::Q4_0, {16}, std::vector<uint8_t>(9)).ok());
    EXPECT_FALSE(w.add_tensor("t", TensorType::F32, {}, {}).ok());
    EXPECT_TRUE(w.add_tensor("t", TensorType::F32, {1}, std::vector<uint8_t>(4)).ok());
    EXPECT_FALSE(w.add_tensor("t", TensorType::F32, {1}, std::vector<uint8_t>(4)).ok());
}

TEST(GgufFileOpen, MissingFileIsAnError) {
    for (FileLoad load : {FileLoad::Map, FileLoad::Copy}) {
        auto file = File::open("/nonexistent/model.gguf", load);
        ASSERT_FALSE(file.ok());
        EXPECT_NE(file.error().message.find("/nonexistent/model.gguf"), std::string::npos);
    }
}

// A file read into memory (huge pages) holds the same bytes as the mapping, tensors included, and
// reports its progress up to the whole size.
TEST(GgufFileOpen, CopyAndMappingAgree) {
    Writer w;
    std::vector<uint8_t> a(3 * 1024 * 1024);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 + i / 251);
    ASSERT_TRUE(w.add_tensor("a", TensorType::F32, {a.size() / 4}, a).ok());
    auto path = (std::filesystem::temp_directory_path() / "rf_copy_test.gguf").string();
    ASSERT_TRUE(w.write_file(path).ok());
    auto mapped = MappedFile::open(path, FileLoad::Map);
    size_t last_done = 0, total = 0;
    auto copied = MappedFile::open(path, FileLoad::Copy, [&](size_t done, size_t all) {
        EXPECT_GE(done, last_done);
        last_done = done;
        total = all;
    });
    ASSERT_TRUE(mapped.ok() && copied.ok());
    EXPECT_FALSE(mapped->copied());
    EXPECT_TRUE(copied->copied());
    EXPECT_EQ(last_done, copied->size());
    EXPECT_EQ(total, copied->size());
    EXPECT_TRUE(std::equal(mapped->bytes().begin(), mapped->bytes().end(), copied->bytes().begin(), copied->bytes().end()));
    auto file = File::open(path, FileLoad::Copy);
    ASSERT_TRUE(file.ok()) << file.error().message;
    const TensorInfo* ta = file->find_tensor("a");
    ASSERT_NE(ta, nullptr);
    EXPECT_EQ(std::vector<uint8_t>(ta->data, ta->data + ta->n_bytes), a);
    // In memory the tensors sit on 64-byte boundaries (the file only promises 32).
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ta->data) % 64, 0u);
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace rf::gguf
