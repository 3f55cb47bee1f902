#include "backend/cpu/kernels/weight_tiles.h"

#include <cstring>
#include <vector>

#include "backend/cpu/kernels/isa.h"

namespace rf::cpu {
namespace {

// The types with an interleaved layout: each block is a 2-byte scale followed by `payload` bytes.
struct BlockShape {
    size_t block_bytes = 0;
    size_t payload = 0;
};
BlockShape block_shape(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return {18, 16};
        default: return {};
    }
}

size_t scale_offset(int64_t b, int r) { return (static_cast<size_t>(b) * kTileRows + static_cast<size_t>(r)) * 2; }
size_t value_offset(int64_t n_blocks, const BlockShape& s, int64_t b, size_t word, int r) {
    const size_t words = s.payload / 4;
    return static_cast<size_t>(n_blocks) * kTileRows * 2 +
           ((static_cast<size_t>(b) * words + word) * kTileRows + static_cast<size_t>(r)) * 4;
}

// One tile from the file's rows (`rows`, row_bytes apart) to the interleaved layout (`tile`).
void interleave(const uint8_t* rows, size_t row_bytes, int64_t n_blocks, const BlockShape& s, uint8_t* tile) {
    for (int r = 0; r < kTileRows; ++r)
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* block = rows + static_cast<size_t>(r) * row_bytes + static_cast<size_t>(b) * s.block_bytes;
            std::memcpy(tile + scale_offset(b, r), block, 2);
            for (size_t word = 0; word < s.payload / 4; ++word)
                std::memcpy(tile + value_offset(n_blocks, s, b, word, r), block + 2 + 4 * word, 4);
        }
}

// The inverse: rows r_begin .. r_end of a tile back to the file's layout, row r at out + (r - r_begin) * row_bytes.
void deinterleave(const uint8_t* tile, size_t row_bytes, int64_t n_blocks, const BlockShape& s, int r_begin, int r_end,
                  uint8_t* out) {
    for (int r = r_begin; r < r_end; ++r)
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* block = out + static_cast<size_t>(r - r_begin) * row_bytes + static_cast<size_t>(b) * s.block_bytes;
            std::memcpy(block, tile + scale_offset(b, r), 2);
            for (size_t word = 0; word < s.payload / 4; ++word)
                std::memcpy(block + 2 + 4 * word, tile + value_offset(n_blocks, s, b, word, r), 4);
        }
}

int64_t blocks_per_row(const WeightMatrix& w, const BlockShape& s) {
    return static_cast<int64_t>(w.row_bytes / s.block_bytes);
}

}  // namespace

bool can_tile(TensorType type) {
    // The interleaved products exist in the AVX-512 VNNI variant only.
    return block_shape(type).block_bytes != 0 && best_isa() == Isa::Avx512;
}

void tile_in_place(WeightMatrix& w, uint8_t* bytes, ThreadPool& pool) {
    const BlockShape s = block_shape(w.type);
    if (s.block_bytes == 0 || w.layout != WeightLayout::Rows || w.row_bytes % s.block_bytes != 0) return;
    const int64_t n_tiles = w.rows / kTileRows;
    const int64_t n_blocks = blocks_per_row(w, s);
    const size_t tile_bytes = kTileRows * w.row_bytes;
    pool.parallel_for(n_tiles, [&](int64_t begin, int64_t end) {
        std::vector<uint8_t> copy(tile_bytes);
        for (int64_t t = begin; t < end; ++t) {
            uint8_t* tile = bytes + static_cast<size_t>(t) * tile_bytes;
            std::memcpy(copy.data(), tile, tile_bytes);
            interleave(copy.data(), w.row_bytes, n_blocks, s, tile);
        }
    });
    w.layout = WeightLayout::Tiles16;
}

void untile(const WeightMatrix& w, int64_t r0, uint8_t* out) {
    const BlockShape s = block_shape(w.type);
    deinterleave(w.row(r0), w.row_bytes, blocks_per_row(w, s), s, 0, kTileRows, out);
}

const uint8_t* file_row(const WeightMatrix& w, int64_t r, uint8_t* scratch) {
    if (!detail::is_tile(w, r)) return w.row(r);
    const BlockShape s = block_shape(w.type);
    const int64_t r0 = r / kTileRows * kTileRows;
    const int in_tile = static_cast<int>(r - r0);
    deinterleave(w.row(r0), w.row_bytes, blocks_per_row(w, s), s, in_tile, in_tile + 1, scratch);
    return scratch;
}

}  // namespace rf::cpu
