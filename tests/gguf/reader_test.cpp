#include <gtest/gtest.h>

#include "gguf/reader.h"
#include "gguf/writer.h"
#include "gguf_bytes.h"

namespace rf::gguf {
namespace {

using test::GgufBytes;

Result<File> parse(const std::vector<uint8_t>& bytes) { return File::parse(bytes, "test.gguf"); }

// A failed parse must name the file and the byte offset of the problem.
void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
    auto file = parse(bytes);
    ASSERT_FALSE(file.ok()) << "expected an error containing '" << needle << "'";
    EXPECT_NE(file.error().message.find("test.gguf"), std::string::npos) << file.error().message;
    EXPECT_NE(file.error().message.find(needle), std::string::npos) << file.error().message;
}

TEST(GgufReader, MinimalFileHasNoMetadataOrTensors) {
    auto file = parse(GgufBytes().header(0, 0).bytes);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->version(), 3u);
    EXPECT_TRUE(file->metadata().empty());
    EXPECT_TRUE(file->tensors().empty());
}

TEST(GgufReader, AcceptsVersion2AndRejectsOthers) {
    EXPECT_TRUE(parse(GgufBytes().header(0, 0, 2).bytes).ok());
    expect_error(GgufBytes().header(0, 0, 1).bytes, "unsupported GGUF version 1");
    expect_error(GgufBytes().header(0, 0, 4).bytes, "unsupported GGUF version 4");
}

TEST(GgufReader, RejectsBadMagic) {
    auto bytes = GgufBytes().header(0, 0).bytes;
    bytes[0] = 'X';
    expect_error(bytes, "not a GGUF file");
    expect_error({}, "truncated");
}

TEST(GgufReader, ReadsTensorDataInPlace) {
    GgufBytes b;
    b.header(2, 0).tensor("a", {4, 2}, 0, 0).tensor("b", {32}, 8, 32).pad();
    for (int i = 0; i < 8; ++i) b.put<float>(static_cast<float>(i));
    b.pad().zeros(34);
    auto file = parse(b.bytes);
    ASSERT_TRUE(file.ok()) << file.error().message;
    ASSERT_EQ(file->tensors().size(), 2u);
    const TensorInfo* a = file->find_tensor("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->n_elements, 8u);
    EXPECT_EQ(a->n_bytes, 32u);
    EXPECT_EQ(a->rows(), 2u);
    EXPECT_EQ(reinterpret_cast<const float*>(a->data)[7], 7.0f);
    EXPECT_EQ(file->find_tensor("b")->type, TensorType::Q8_0);
    EXPECT_EQ(file->find_tensor("b")->n_bytes, 34u);
    EXPECT_EQ(file->find_tensor("missing"), nullptr);
}

TEST(GgufReader, RejectsHugeCountsWithoutAllocating) {
    expect_error(GgufBytes().header(0, uint64_t{1} << 60).bytes, "metadata count");
    expect_error(GgufBytes().header(uint64_t{1} << 60, 0).bytes, "tensor count");
    // An array claiming 2^61 u64 elements.
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(10).put<uint64_t>(uint64_t{1} << 61).bytes,
                 "does not fit");
    // A string claiming more bytes than the file has.
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(~uint64_t{0}).bytes, "remain");
}

TEST(GgufReader, RejectsUnknownTypes) {
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0).bytes, "unknown value type 13");
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(99).put<uint64_t>(0).bytes,
                 "unknown array element type 99");
    expect_error(GgufBytes().header(1, 0).tensor("t", {32}, 4, 0).pad().zeros(64).bytes, "unknown type id 4");
    expect_error(GgufBytes().header(1, 0).tensor("t", {32}, 1000, 0).pad().zeros(64).bytes, "unknown type id 1000");
}

TEST(GgufReader, RejectsBadTensors) {
    expect_error(GgufBytes().header(1, 0).tensor("t", {64}, 0, 0).pad().zeros(100).bytes, "extends past the end");
    expect_error(GgufBytes().header(1, 0).tensor("t", {4}, 0, 8).pad().zeros(64).bytes, "not a multiple of the alignment");
    expect_error(GgufBytes().header(1, 0).tensor("t", {16}, 8, 0).pad().zeros(64).bytes, "block size");
    expect_error(GgufBytes().header(1, 0).tensor("t", {}, 0, 0).pad().bytes, "dimensions");
    expect_error(GgufBytes().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().bytes, "dimensions");
    expect_error(GgufBytes().header(1, 0).tensor("t", {4, 0}, 0, 0).pad().bytes, "invalid shape");
    expect_error(GgufBytes().header(1, 0).tensor("t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0).pad().bytes,
                 "invalid shape");
    expect_error(GgufBytes().header(2, 0).tensor("t", {8}, 0, 0).tensor("u", {8}, 0, 0).pad().zeros(64).bytes, "overlap");
    expect_error(GgufBytes().header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad().zeros(64).bytes,
                 "duplicate tensor");
    expect_error(GgufBytes().header(1, 0).tensor("t", {8}, 0, 0).bytes, "truncated before its data section");
}

// The element count stays within the reader's 2^62 bound, but times the type's size it does not
// fit in 64 bits: the byte size must be an error, not a wrapped (or undefined) value.
TEST(GgufReader, RejectsTensorsWhoseByteSizeOverflows) {
    const uint64_t big = uint64_t{1} << 62;
    expect_error(GgufBytes().header(1, 0).tensor("t", {big}, 0, 0).pad().zeros(64).bytes,
                 "tensor 't': 4611686018427387904 elements of F32 overflow a 64-bit byte size");
    expect_error(GgufBytes().header(1, 0).tensor("t", {uint64_t{1} << 31, uint64_t{1} << 30}, 27, 0).pad().zeros(64).bytes,
                 "elements of I64 overflow");
    expect_error(GgufBytes().header(1, 0).tensor("t", {2, 2, uint64_t{1} << 60}, 28, 0).pad().zeros(64).bytes,
                 "elements of F64 overflow");
    // The largest count whose size fits (2^62 F16 values: 2^63 bytes) still fails, on the file size.
    expect_error(GgufBytes().header(1, 0).tensor("t", {big}, 1, 0).pad().zeros(64).bytes, "extends past the end");
}

TEST(GgufReader, RejectsBadMetadata) {
    expect_error(GgufBytes().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).bytes, "duplicate metadata key 'a'");
    expect_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 3).bytes, "power of two");
    expect_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 0).bytes, "power of two");
    expect_error(GgufBytes().header(0, 1).str("\xff\xfe").put<uint32_t>(4).put<uint32_t>(0).bytes, "not valid UTF-8");
    expect_error(GgufBytes().header(0, 1).str("b").put<uint32_t>(7).put<uint8_t>(2).bytes, "neither 0 nor 1");
    // Arrays nested deeper than the reader allows.
    GgufBytes deep;
    deep.header(0, 1).str("nested").put<uint32_t>(9);
    for (int i = 0; i < 20; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);
    deep.put<uint32_t>(4).put<uint64_t>(0);
    expect_error(deep.bytes, "nested too deeply");
}

TEST(GgufReader, EveryTruncationFailsCleanly) {
    Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set("list", Value::string_array({"a", "bc", "def"}));
    std::vector<uint8_t> data(32 * 4, 1);
    ASSERT_TRUE(w.add_tensor("t", TensorType::F32, {32}, data).ok());
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(parse(*bytes).ok());
    for (size_t n = 0; n < bytes->size(); ++n) {
        std::vector<uint8_t> prefix(bytes->begin(), bytes->begin() + static_cast<long>(n));
        EXPECT_FALSE(parse(prefix).ok()) << "prefix of " << n << " bytes parsed";
    }
}

TEST(GgufReader, SurvivesRandomCorruption) {
    Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set("llama.block_count", Value::u32(2));
    w.set("scores", Value::f32_array({1.0f, 2.0f, 3.0f}));
    ASSERT_TRUE(w.add_tensor("t", TensorType::Q8_0, {64, 2}, std::vector<uint8_t>(136, 7)).ok());
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok());
    uint64_t state = 12345;
    auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
    int parsed = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        auto mutated = *bytes;
        int flips = 1 + static_cast<int>(next() % 4);
        for (int f = 0; f < flips; ++f) mutated[next() % mutated.size()] = static_cast<uint8_t>(next() >> 56);
        auto file = parse(mutated);  // must return, never crash; ASan checks the reads
        if (file.ok()) {
            ++parsed;
            for (const auto& t : file->tensors()) EXPECT_LE(t.data + t.n_bytes, mutated.data() + mutated.size());
        }
    }
    EXPECT_GT(parsed, 0);  // some flips land in tensor data and leave the file valid
}

}  // namespace
}  // namespace rf::gguf
