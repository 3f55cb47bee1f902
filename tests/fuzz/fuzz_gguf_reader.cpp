// libFuzzer target: the GGUF reader must return a value or an Error for any bytes, never crash,
// hang or allocate without bound. Parsed files are walked the way `inspect` walks them.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto file = rf::gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz-input");
    if (!file.ok()) return 0;
    size_t sink = 0;
    for (const auto& entry : file->metadata()) sink += entry.value.to_display_string().size();
    for (const auto& t : file->tensors()) {
        auto bytes = t.bytes();
        if (!bytes.empty()) sink += bytes.front() + bytes.back();  // in bounds, or ASan says so
    }
    (void)file->get_string_array("tokenizer.ggml.tokens");
    (void)file->get_f32_array("tokenizer.ggml.scores");
    return static_cast<int>(sink & 0);
}
