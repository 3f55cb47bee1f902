// The matrix-product driver: checks shapes, converts activations once, then walks tiles of
// kRowTile weight rows; within a tile every group of kMaxTileTokens tokens reuses the rows while
// they are still in cache, so each weight byte comes from memory once per product.
#include "backend/cpu/kernels/matmul.h"

#include <algorithm>
#include <mutex>
#include <span>
#include <vector>

#include "backend/cpu/kernels/activations.h"
#include "backend/cpu/kernels/row_kernels.h"
#include "backend/cpu/kernels/weight_tiles.h"
#include "quant/dequantize.h"

namespace rf::cpu {
namespace {

using detail::kMaxTileTokens;

// Rows per task: enough to amortize a task, few enough that the tile stays in L1/L2 while every
// token group passes over it.
constexpr int64_t kRowTile = 16;

// From this many tokens on, repacking a tile of rows for the tile products pays for itself:
// measured on TinyLlama-shaped products (docs/performance.md). Below it, types with an AVX-512
// in-place kernel read their rows as stored: the 32-value block types up to 23 tokens (Q4_0 model
// at 16 tokens: in place 156 vs tiles 126 tok/s on the dev VM, 140 vs 98 on the device host; at
// 32 both 181, Q8_0 164 vs 177), Q2_K..Q6_K and IQ4_XS up to 31 (Q4_K_M at 16: 123 vs 94, at 32:
// 147 vs 145; Q2_K model pp16 107 vs 98), float weights up to 11 (F16 model at 8 tokens: 57 vs
// 52, at 16: 71 vs 79). Other types keep their row kernels up to 3 tokens (7 for super-blocks,
// which those decode once per 4 tokens).
int64_t gemm_min_tokens(Isa isa, TensorType type) {
    const detail::ActFormat format = detail::activation_format(type);
    const bool super_blocks = format == detail::ActFormat::Q8_K;
    if (isa == Isa::Avx512 && detail::avx512_gemv(type).fn != nullptr) {
        if (format == detail::ActFormat::F32) return 12;
        return super_blocks ? 32 : 24;
    }
    if (super_blocks) return 8;
    return 4;
}

// The row kernels read one row at a time, a short stream the hardware prefetcher barely starts on
// before it ends; the row one tile ahead is requested into L2 while this one is read.
void prefetch_row(const uint8_t* row, size_t bytes) {
    for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(row + offset, 0, 2);
}

Status check_shapes(const WeightMatrix& w, const float* x, int64_t n_tokens, const float* y) {
    if (n_tokens < 0 || w.rows < 0 || w.cols <= 0)
        return make_error("matmul: bad shape ({} rows x {} cols, {} tokens)", w.rows, w.cols, n_tokens);
    const auto bytes = tensor_bytes(w.type, static_cast<uint64_t>(w.cols));
    if (!bytes) return make_error("matmul: {} columns are not whole {} blocks", w.cols, tensor_type_name(w.type));
    if (*bytes != w.row_bytes)
        return make_error("matmul: row_bytes {} but a {} row of {} values is {} bytes", w.row_bytes,
                          tensor_type_name(w.type), w.cols, *bytes);
    if (w.rows > 0 && n_tokens > 0 && (w.data == nullptr || x == nullptr || y == nullptr))
        return make_error("matmul: null weight, input or output pointer");
    return ok_status();
}

// Types without a kernel: dequantize each row once into a per-thread buffer, then f32 dots.
Status generic_matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    if (!quant::can_dequantize(w.type))
        return make_error("matmul: no way to read {} weights", tensor_type_name(w.type));
    std::mutex error_mutex;
    Status result = ok_status();
    pool.parallel_for(w.rows, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> row;
        row.resize(static_cast<size_t>(w.cols));
        for (int64_t r = begin; r < end; ++r) {
            auto status = quant::dequantize_row(w.type, std::span(w.row(r), w.row_bytes), row);
            if (!status.ok()) {
                std::lock_guard lock(error_mutex);
                result = status;
                return;
            }
            for (int64_t t = 0; t < n_tokens; ++t) {
                const float* xt = x + t * w.cols;
                float sum = 0;
                for (int64_t c = 0; c < w.cols; ++c) sum += row[static_cast<size_t>(c)] * xt[c];
                y[t * w.rows + r] = sum;
            }
        }
    });
    return result;
}

}  // namespace

bool has_fast_kernel(TensorType type) { return detail::scalar_kernel(type) != nullptr; }

Status matmul_with_isa(Isa isa, const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                       ThreadPool& pool) {
    RF_TRY(check_shapes(w, x, n_tokens, y));
    if (!isa_supported(isa)) return make_error("matmul: this CPU cannot run the {} kernels", isa_name(isa));
    if (w.rows == 0 || n_tokens == 0) return ok_status();
    const detail::RowDotFn kernel = detail::kernel_for(isa, w.type);
    if (kernel == nullptr) return generic_matmul(w, x, n_tokens, y, pool);

    std::lock_guard lock(detail::shared_activation_mutex());
    RF_ASSIGN_OR_RETURN(const detail::Activations act,
                        detail::shared_activation_buffer().prepare(detail::activation_format(w.type), x, w.cols,
                                                                   n_tokens, pool));
    // Many tokens: repacked tile products; few: tiles of rows read in place; else one row at a time.
    detail::TileProduct tiles;
    if (n_tokens < gemm_min_tokens(isa, w.type))
        tiles = detail::gemv_for(isa, w.type);
    else if (isa == Isa::Avx512)
        tiles = detail::avx512_gemm(w.type);
    // Interleaved tiles (weight_tiles.h) have their own products, at every token count: all the
    // products of a TinyLlama-shaped model on the dev VM, 1 / 16 / 128 tokens, stored -> tiled:
    // Q4_0 41.4 / 173 / 247 -> 45.3 / 270 / 307 tok/s, Q4_K_M 34.0 / 123 / 228 -> 40.6 / 175 / 244,
    // Q8_0 26.8 / 164 / 278 -> 27.4 / 223 / 297. A variant without them (AVX2) puts each tile back
    // into rows first.
    detail::TileProduct interleaved;
    if (w.layout == kTiles16 && isa == Isa::Avx512) interleaved = detail::avx512_tiled(w.type);
    const int64_t unit = w.layout == kTiles16 ? kTileRows : tiles.fn != nullptr ? tiles.rows : kRowTile;

    // The task captures one pointer, so building its std::function does not allocate.
    struct Job {
        const WeightMatrix& w;
        detail::RowDotFn kernel;
        detail::TileProduct tiles, interleaved;
        detail::Activations act;
        int64_t n_tokens, unit;
        float* y;
        Isa isa;

        // Rows r0 .. r0 + n_rows, stored as in the file at `rows`.
        void rows_as_stored(const uint8_t* rows, int64_t r0, int n_rows) const {
            if (tiles.fn != nullptr) {
                for (int i = 0; i < n_rows; i += tiles.rows)
                    tiles.fn(w.cols, rows + static_cast<size_t>(i) * w.row_bytes, w.row_bytes,
                             std::min(tiles.rows, n_rows - i), act.data, act.row_bytes, n_tokens, y + r0 + i,
                             static_cast<size_t>(w.rows));
                return;
            }
            for (int64_t t = 0; t < n_tokens; t += kMaxTileTokens) {
                const int n_tok = static_cast<int>(std::min<int64_t>(kMaxTileTokens, n_tokens - t));
                const uint8_t* act_t = act.data + static_cast<size_t>(t) * act.row_bytes;
                for (int i = 0; i < n_rows; ++i) {
                    const int64_t r = r0 + i;
                    if (t == 0 && r + kRowTile < w.rows) prefetch_row(w.row(r + kRowTile), w.row_bytes);
                    kernel(w.cols, rows + static_cast<size_t>(i) * w.row_bytes, act_t, act.row_bytes, n_tok,
                           y + t * w.rows + r, static_cast<size_t>(w.rows));
                }
            }
        }
        void run(int64_t r0) const {
            const int n_rows = static_cast<int>(std::min(unit, w.rows - r0));
            if (!detail::is_tile(w, r0)) return rows_as_stored(w.row(r0), r0, n_rows);
            if (interleaved.fn != nullptr)
                return interleaved.fn(w.cols, w.row(r0), w.row_bytes, kTileRows, act.data, act.row_bytes, n_tokens,
                                      y + r0, static_cast<size_t>(w.rows));
            thread_local std::vector<uint8_t> rows;
            rows.resize(kTileRows * w.row_bytes);
            untile(w, r0, rows.data());
            rows_as_stored(rows.data(), r0, kTileRows);
        }
    } job{w, kernel, tiles, interleaved, act, n_tokens, unit, y, isa};
    // One token reads the weights at memory speed, and every range a thread starts begins with a
    // tile that no prefetch has requested: one range per thread (dev VM, TinyLlama-shaped tg32,
    // three interleaved rounds: Q4_0 42.1-43.7 -> 43.1-44.1, Q4_K_M 36.8-39.2 -> 39.2-39.8). More
    // tokens are bound by computing, where four ranges per thread balance a slowed thread (pp128
    // 6% faster with them).
    pool.parallel_for(
        (w.rows + unit - 1) / unit,
        [&job](int64_t begin, int64_t end) {
            for (int64_t u = begin; u < end; ++u) job.run(u * job.unit);
            detail::clean_vector_state(job.isa);
        },
        n_tokens == 1 ? 1 : 4);
    return ok_status();
}

Status matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    return matmul_with_isa(best_isa(), w, x, n_tokens, y, pool);
}

}  // namespace rf::cpu
