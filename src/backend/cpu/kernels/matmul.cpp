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
    // The task captures one pointer, so building its std::function does not allocate.
    struct Job {
        const WeightMatrix& w;
        detail::RowDotFn kernel;
        detail::Activations act;
        int64_t n_tokens;
        float* y;
        Isa isa;
    } job{w, kernel, act, n_tokens, y, isa};
    // Many tokens: repacked tile products; few: tiles of rows read in place; else one row at a time.
    detail::TileProduct tiles;
    if (n_tokens < gemm_min_tokens(isa, w.type))
        tiles = detail::gemv_for(isa, w.type);
    else if (isa == Isa::Avx512)
        tiles = detail::avx512_gemm(w.type);
    if (tiles.fn != nullptr) {
        struct GemmJob {
            const WeightMatrix& w;
            detail::TileProduct tiles;
            detail::Activations act;
            int64_t n_tokens;
            float* y;
            Isa isa;
        } gjob{w, tiles, act, n_tokens, y, isa};
        const int64_t n_gemm_tiles = (w.rows + tiles.rows - 1) / tiles.rows;
        pool.parallel_for(n_gemm_tiles, [&gjob](int64_t begin, int64_t end) {
            const WeightMatrix& w = gjob.w;
            for (int64_t tile = begin; tile < end; ++tile) {
                const int64_t r0 = tile * gjob.tiles.rows;
                const int n_rows = static_cast<int>(std::min<int64_t>(gjob.tiles.rows, w.rows - r0));
                gjob.tiles.fn(w.cols, w.row(r0), w.row_bytes, n_rows, gjob.act.data, gjob.act.row_bytes,
                              gjob.n_tokens, gjob.y + r0, static_cast<size_t>(w.rows));
            }
            detail::clean_vector_state(gjob.isa);
        });
        return ok_status();
    }

    const int64_t n_tiles = (w.rows + kRowTile - 1) / kRowTile;
    pool.parallel_for(n_tiles, [&job](int64_t tile_begin, int64_t tile_end) {
        const WeightMatrix& w = job.w;
        const int64_t row_end = std::min(w.rows, tile_end * kRowTile);
        for (int64_t r0 = tile_begin * kRowTile; r0 < row_end; r0 += kRowTile) {
            const int64_t r1 = std::min(row_end, r0 + kRowTile);
            for (int64_t t = 0; t < job.n_tokens; t += kMaxTileTokens) {
                const int n_tok = static_cast<int>(std::min<int64_t>(kMaxTileTokens, job.n_tokens - t));
                const uint8_t* act_t = job.act.data + static_cast<size_t>(t) * job.act.row_bytes;
                for (int64_t r = r0; r < r1; ++r) {
                    if (t == 0 && r + kRowTile < w.rows) prefetch_row(w.row(r + kRowTile), w.row_bytes);
                    job.kernel(w.cols, w.row(r), act_t, job.act.row_bytes, n_tok, job.y + t * w.rows + r,
                               static_cast<size_t>(w.rows));
                }
            }
        }
        detail::clean_vector_state(job.isa);
    });
    return ok_status();
}

Status matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    return matmul_with_isa(best_isa(), w, x, n_tokens, y, pool);
}

}  // namespace rf::cpu
