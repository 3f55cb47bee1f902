// The CPU backend: activations in host memory, weights used in place from the file's bytes
// (interleaved there for the kernels when the file was read into private memory, see
// kernels/weight_tiles.h), work split over a pool of threads sized to the cores. Matrix products go to the SIMD kernels, which
// round activations to 8 bits as the reference implementation does.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels/isa.h"
#include "backend/cpu/kernels/thread_pool.h"
#include "backend/cpu/reference_matmul.h"
#include "backend/cpu/worker_pool.h"

namespace rf::cpu {

struct CpuBackendOptions {
    int threads = 0;    // 0: one per core
    bool repack = true;  // interleave writable weights of the types that have a tiled layout
};

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(CpuBackendOptions options = {});

    std::string name() const override { return "cpu"; }
    std::string device_name() const override { return device_name_; }
    Result<MemoryInfo> memory() const override;
    int threads() const { return pool_.size(); }

    Result<DeviceBuffer> allocate(size_t bytes) override;
    Status upload(const DeviceBuffer& dst, const void* src, size_t bytes) override;
    Status download(void* dst, const float* src, size_t n_floats) override;
    Result<WeightMatrix> import_weight(const WeightMatrix& host, bool writable) override;
    Result<std::unique_ptr<KvStorage>> create_kv_storage(const KvCacheShape& shape) override;
    int64_t kv_block_bytes(const KvCacheShape& shape) const override;

    Status matmul(const WeightMatrix& w, const Act& x, const Act& y) override;
    // The product into a buffer of the backend's, then add: the CPU gains nothing from folding them.
    Status matmul_add(const WeightMatrix& w, const Act& x, const Act& y) override;
    Status matmul_experts(const WeightMatrix& experts, const int32_t* ids, int64_t k, const Act& x,
                          const Act& y) override;
    Status route_top_k(const Act& logits, int64_t k, bool normalize, int32_t* ids, float* weights) override;
    Status combine_experts(const Act& x, const float* weights, int64_t k, const Act& out) override;

    Status gather_rows(const Act& x, const int32_t* rows, const Act& out) override;
    Status embed(const WeightMatrix& table, const int32_t* ids, const Act& out) override;
    Status rms_norm(const Act& x, ParamVector weight, float eps, const Act& out) override;
    Status rms_norm_heads(const Act& x, int64_t head_dim, ParamVector weight, float eps) override;
    Status rope(const Act& x, int64_t head_dim, const int32_t* positions, const RopeConfig& config) override;
    Status add(const Act& a, const Act& b, const Act& out) override;
    Status add_bias(const Act& x, ParamVector bias) override;
    Status scale(const Act& x, float s) override;
    Status softcap(const Act& x, float cap) override;
    Status gated_activation(GatedActivation act, const Act& gate, const Act& up, const Act& out) override;
    Status softmax_rows(const Act& x) override;

    Status store_kv(KvStorage& cache, int64_t layer, const Act& k, const Act& v, const BatchLayout& batch) override;
    Status attention(KvStorage& cache, int64_t layer, const Act& q, const AttentionConfig& config,
                     const BatchLayout& batch, const Act& out) override;

private:
    // Applies fn(row pointer, row index) to every row of x, rows split over the pool.
    template <typename Fn>
    void for_rows(const Act& x, Fn&& fn) {
        pool_.parallel_for(x.rows, [&](int64_t begin, int64_t end, int) {
            for (int64_t r = begin; r < end; ++r) fn(x.data + r * x.stride, r);
        });
    }

    // Imports one matrix (a stack's slice, or a plain weight).
    WeightMatrix import_matrix(const WeightMatrix& host, bool writable);

    bool repack_;
    std::string device_name_;  // the processor's model name and the pool's threads
    Isa isa_;  // the kernels' variant for the backend's own vector ops (attention, SiLU)
    std::unordered_map<const uint8_t*, WeightLayout> layouts_;  // of the weights rearranged so far
    WorkerPool pool_;              // one set of threads for the kernels and the backend's ops
    ReferenceMatmul reference_;    // products the kernels cannot take (strided rows)
    // Scratch kept between calls so that the token loop allocates nothing after warm-up.
    std::vector<std::vector<float>> attention_scratch_;  // per worker: scores, then the output row
    std::vector<float> expert_in_, expert_out_;
    std::vector<float> product_;  // matmul_add's product
    std::vector<int32_t> expert_rows_;
};

}  // namespace rf::cpu
