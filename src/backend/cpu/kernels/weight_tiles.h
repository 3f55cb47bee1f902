// Weights interleaved 16 rows at a time (layout kTiles16), so that the few-token products
// read each tile as whole aligned vectors: no gathers for the scales, no inserts of 16-byte row
// pieces. Done once when a model is loaded into private memory; the bytes of a tile stay in the
// place of its 16 rows, so nothing is allocated.
//
// A block is cut into segments of 2- or 4-byte words (Q4_0: the F16 scale, then the 16 bytes of
// nibbles; Q4_K: all of it, d and dmin, scales, nibbles), and a tile stores each segment for all
// its blocks in turn, with the 16 rows' copies of a word side by side:
//   tile = for each segment: [n_blocks][words][16 rows][unit bytes]
// so one 64-byte load holds the same 4 bytes of a block of all 16 rows.
#pragma once

#include <cstdint>

#include "backend/cpu/kernels/thread_pool.h"
#include "backend/weight_matrix.h"

namespace rf::cpu {

inline constexpr int kTileRows = 16;
// The CPU backend's own WeightMatrix layout: each whole group of 16 rows interleaved as above.
inline constexpr WeightLayout kTiles16 = static_cast<WeightLayout>(1);

// True when `type` has an interleaved layout (Q4_0, Q8_0, Q4_K, Q6_K) and a product that reads
// it on this CPU.
bool can_tile(TensorType type);

// Interleaves every whole group of 16 rows of w in place (`bytes` is w.data, writable) and sets
// w.layout; rows past the last whole group stay as they are. Types that cannot be tiled are left
// alone.
void tile_in_place(WeightMatrix& w, uint8_t* bytes, ThreadPool& pool);

// Rows r0 .. r0 + 15 (a whole tile, r0 a multiple of 16) in the file's layout, to out (16 rows,
// w.row_bytes apart).
void untile(const WeightMatrix& w, int64_t r0, uint8_t* out);

// Row r in the file's layout: w.row(r) itself, or the row copied out of its tile into `scratch`
// (w.row_bytes long).
const uint8_t* file_row(const WeightMatrix& w, int64_t r, uint8_t* scratch);

namespace detail {
// Whether the rows of w starting at r0 are an interleaved tile.
inline bool is_tile(const WeightMatrix& w, int64_t r0) {
    return w.layout == kTiles16 && r0 / kTileRows < w.rows / kTileRows;
}
}  // namespace detail

}  // namespace rf::cpu
