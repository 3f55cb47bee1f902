#include "backend/cpu/kernels/weight_tiles.h"

#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backend/cpu/kernels/isa.h"
#include "backend/cpu/kernels/row_kernels.h"

namespace rf::cpu {
namespace {

// A block is cut into segments of 2- or 4-byte words; a tile stores each segment for all its
// blocks in turn, word by word, the 16 rows' copies of a word side by side:
//   tile = for each segment: [n_blocks][words][16 rows][unit bytes]
struct Segment {
    size_t offset, bytes, unit;
};
struct BlockShape {
    size_t block_bytes = 0;
    std::array<Segment, 2> segments{};  // unused ones have 0 bytes
};
BlockShape block_shape(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return {18, {{{0, 2, 2}, {2, 16, 4}}}};      // d; nibbles
        case TensorType::Q8_0: return {34, {{{0, 2, 2}, {2, 32, 4}}}};      // d; bytes
        case TensorType::Q4_K: return {144, {{{0, 144, 4}}}};               // d and dmin, scales, nibbles
        case TensorType::Q6_K: return {210, {{{0, 208, 4}, {208, 2, 2}}}};  // low bits, high bits, scales; d
        default: return {};
    }
}

// The words of rows r_begin .. r_end of one tile, between the interleaved tile and the file's
// layout (`rows`: those rows only, row_bytes apart), in the direction ToTile. Written for the
// compiler to see constant word sizes and simple strides: with a generic per-word copy, tiling a
// 600 MB model took 1.2 s.
template <bool ToTile, size_t Unit>
void move_segment(const Segment& seg, int64_t n_blocks, size_t block_bytes, size_t row_bytes, int r_begin, int r_end,
                  std::conditional_t<ToTile, const uint8_t*, uint8_t*> rows,
                  std::conditional_t<ToTile, uint8_t*, const uint8_t*> region) {
    const size_t words = seg.bytes / Unit;
    for (int64_t b = 0; b < n_blocks; ++b)
        for (size_t word = 0; word < words; ++word) {
            const size_t in_row = static_cast<size_t>(b) * block_bytes + seg.offset + word * Unit;
            const size_t in_tile = (static_cast<size_t>(b) * words + word) * kTileRows * Unit;
            for (int r = r_begin; r < r_end; ++r) {
                const size_t row_offset = static_cast<size_t>(r - r_begin) * row_bytes + in_row;
                const size_t tile_offset = in_tile + static_cast<size_t>(r) * Unit;
                if constexpr (ToTile)
                    std::memcpy(region + tile_offset, rows + row_offset, Unit);
                else
                    std::memcpy(rows + row_offset, region + tile_offset, Unit);
            }
        }
}

template <bool ToTile>
void move_words(const BlockShape& s, int64_t n_blocks, size_t row_bytes, int r_begin, int r_end,
                std::conditional_t<ToTile, const uint8_t*, uint8_t*> rows,
                std::conditional_t<ToTile, uint8_t*, const uint8_t*> tile) {
    for (const Segment& seg : s.segments) {
        if (seg.unit == 4)
            move_segment<ToTile, 4>(seg, n_blocks, s.block_bytes, row_bytes, r_begin, r_end, rows, tile);
        else if (seg.unit == 2)
            move_segment<ToTile, 2>(seg, n_blocks, s.block_bytes, row_bytes, r_begin, r_end, rows, tile);
        tile += static_cast<size_t>(n_blocks) * kTileRows * seg.bytes;  // the next segment's region
    }
}

int64_t blocks_per_row(const WeightMatrix& w, const BlockShape& s) {
    return static_cast<int64_t>(w.row_bytes / s.block_bytes);
}

}  // namespace

bool can_tile(TensorType type) {
    // The interleaved products exist in the AVX-512 VNNI variant only.
    return block_shape(type).block_bytes != 0 && best_isa() == Isa::Avx512 && detail::avx512_tiled(type).fn != nullptr;
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
            move_words<true>(s, n_blocks, w.row_bytes, 0, kTileRows, copy.data(), tile);
        }
    });
    w.layout = kTiles16;
}

void untile(const WeightMatrix& w, int64_t r0, uint8_t* out) {
    const BlockShape s = block_shape(w.type);
    move_words<false>(s, blocks_per_row(w, s), w.row_bytes, 0, kTileRows, out, w.row(r0));
}

const uint8_t* file_row(const WeightMatrix& w, int64_t r, uint8_t* scratch) {
    if (!detail::is_tile(w, r)) return w.row(r);
    const BlockShape s = block_shape(w.type);
    const int64_t r0 = r / kTileRows * kTileRows;
    const int in_tile = static_cast<int>(r - r0);
    move_words<false>(s, blocks_per_row(w, s), w.row_bytes, in_tile, in_tile + 1, scratch, w.row(r0));
    return scratch;
}

}  // namespace rf::cpu
