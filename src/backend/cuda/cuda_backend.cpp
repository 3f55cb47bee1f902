// The CUDA backend's memory: device buffers, host transfers, weights and KV storage.
#include <cstdio>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_backend_impl.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace rf::gpu {

Status gpu_check(gpuError_t err, std::string_view what) {
    if (err == gpuSuccess) return ok_status();
    gpuGetLastError();  // so that the next launch is not blamed for this call's error
    Error e = make_error("GPU: {} failed: {}", what, gpuGetErrorString(err));
    e.device_lost = gpu_error_is_sticky(err);
    return e;
}

Status launch_check(std::string_view op) { return gpu_check(gpuGetLastError(), fmt::format("{} kernel launch", op)); }

Result<std::unique_ptr<Backend>> create_cuda_backend(int device, bool batch_invariant) {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> backend, CudaBackend::create(device, batch_invariant));
    return std::unique_ptr<Backend>(std::move(backend));
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(int device, bool batch_invariant) {
    int count = 0;
    RF_TRY(gpu_check(gpuGetDeviceCount(&count), "counting devices"));
    if (device < 0 || device >= count) return make_error("GPU {} does not exist ({} device(s) found)", device, count);
    RF_TRY(gpu_check(gpuSetDevice(device), "selecting the device"));
    gpuDeviceProp prop{};
    RF_TRY(gpu_check(gpuGetDeviceProperties(&prop, device), "reading device properties"));
    gpuStream_t stream = nullptr;
    RF_TRY(gpu_check(gpuStreamCreateWithFlags(&stream, gpuStreamNonBlocking), "creating a stream"));
    void* word = nullptr;
    if (Status s = gpu_check(gpuMalloc(&word, sizeof(int)), "allocating the error word"); !s) {
        gpuStreamDestroy(stream);
        return s.error();
    }
    DeviceBuffer error_word(std::shared_ptr<void>(word, [](void* p) { gpuFree(p); }), sizeof(int));
    gpublasHandle_t blas = nullptr;
    if (gpublasStatus_t st = gpublasCreate(&blas); st != gpublasSuccess || gpublasSetStream(blas, stream) != gpublasSuccess) {
        if (blas) gpublasDestroy(blas);
        gpuStreamDestroy(stream);
        return make_error("GPU: the BLAS library could not start (status {})", static_cast<int>(st));
    }
    auto backend = std::unique_ptr<CudaBackend>(new CudaBackend(device, prop.name, stream, blas, error_word));
    backend->batch_invariant_ = batch_invariant;
    RF_TRY(gpu_check(gpuMemsetAsync(word, 0, sizeof(int), stream), "clearing the error word"));
    RF_TRY(backend->synchronize("start-up"));
    return backend;
}

CudaBackend::CudaBackend(int device, std::string device_name, gpuStream_t stream, gpublasHandle_t blas,
                         DeviceBuffer error_word)
    : device_(device), device_name_(std::move(device_name)), stream_(stream), blas_(blas), error_word_(std::move(error_word)) {}

CudaBackend::~CudaBackend() {
    gpuSetDevice(device_);
    (void)graph_.end_step(stream_);  // a step left open is launched, so the stream is not capturing
    gpuStreamSynchronize(stream_);
    gpublasDestroy(blas_);
    gpuStreamDestroy(stream_);
}

Result<MemoryInfo> CudaBackend::memory() const {
    RF_TRY(gpu_check(gpuSetDevice(device_), "selecting the device"));
    size_t free_bytes = 0, total_bytes = 0;
    RF_TRY(gpu_check(gpuMemGetInfo(&free_bytes, &total_bytes), "reading free device memory"));
    return MemoryInfo{free_bytes, total_bytes};
}

Status CudaBackend::begin_step() {
    RF_TRY(gpu_check(gpuSetDevice(device_), "selecting the device"));
    profile_.begin_step(stream_);
    quantized_.reset();
    step_products_.clear();
    RF_TRY(graph_.begin_step(stream_));
    RF_TRY(gpu_check(gpuMemsetAsync(error_word_.bytes(), 0, sizeof(int), stream_), "clearing the error word"));
    in_step_ = true;  // only once the step has begun: a failed begin gets no end_step
    return ok_status();
}

Status CudaBackend::end_step() {
    in_step_ = false;
    if (!step_products_.empty()) last_step_products_.swap(step_products_);
    return graph_.end_step(stream_);
}

Status CudaBackend::all_reduce_sum(const NcclLibrary& nccl, ncclComm_t comm, const Act& x) {
    if (x.stride != x.cols) return make_error("all-reduce: rows of {} values {} apart are not contiguous", x.cols, x.stride);
    const auto n = static_cast<size_t>(x.rows * x.cols);
    if (nccl_in_graphs_) {
        const gpuStream_t stream = op_stream();
        RF_TRY(nccl.check(nccl.all_reduce(x.data, x.data, n, ncclFloat32, ncclSum, comm, stream), "all-reduce"));
        quantized_.reset();  // x may be the remembered input
        return graph_.after_op(stream);
    }
    // By default NCCL's kernels run between the captured chunks of the step, not inside them: a
    // chunk's graph is updated in place step after step, which a captured collective need not allow.
    RF_TRY(graph_.flush(stream_));
    quantized_.reset();
    return nccl.check(nccl.all_reduce(x.data, x.data, n, ncclFloat32, ncclSum, comm, stream_), "all-reduce");
}

Result<DeviceBuffer> CudaBackend::allocate(size_t bytes) {
    RF_TRY(gpu_check(gpuSetDevice(device_), "selecting the device"));
    quantized_.reset();  // the remembered input's memory may be freed and handed out again
    void* memory = nullptr;
    // Rounded up to whole 256-byte lines: kernels may read a vector past a row's end.
    const size_t rounded = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
    if (gpuError_t err = gpuMalloc(&memory, rounded); err != gpuSuccess) {
        gpuGetLastError();  // clear the sticky-free allocation error so later launches are not blamed
        size_t free_bytes = 0, total_bytes = 0;
        gpuMemGetInfo(&free_bytes, &total_bytes);
        return make_error("GPU out of memory: {} MiB needed, {} MiB of {} MiB free ({})", (bytes + (1 << 20) - 1) >> 20,
                          free_bytes >> 20, total_bytes >> 20, gpuGetErrorString(err));
    }
    return DeviceBuffer(std::shared_ptr<void>(memory, [](void* p) { gpuFree(p); }), bytes);
}

// Page-locked, so that downloads into it are the copy engine's alone (into pageable memory the
// driver copies through a staging buffer of its own, at a fraction of the bus's speed). Where the
// host has none to give, ordinary memory: slower downloads, the same results.
Result<HostBuffer> CudaBackend::allocate_host(size_t bytes) {
    RF_TRY(gpu_check(gpuSetDevice(device_), "selecting the device"));
    void* memory = nullptr;
    if (gpuError_t err = gpuMallocHost(&memory, std::max<size_t>(bytes, 1)); err != gpuSuccess) {
        if (gpu_error_is_sticky(err)) return gpu_check(err, "allocating page-locked host memory").error();
        gpuGetLastError();
        return Backend::allocate_host(bytes);
    }
    return HostBuffer(std::shared_ptr<void>(memory, [](void* p) { gpuFreeHost(p); }), bytes);
}

Status CudaBackend::upload(const DeviceBuffer& dst, const void* src, size_t bytes) {
    RF_TRY(gpu_check(gpuSetDevice(device_), "selecting the device"));
    if (bytes > dst.size_bytes()) return make_error("upload of {} bytes into a {}-byte buffer", bytes, dst.size_bytes());
    if (bytes == 0) return ok_status();
    quantized_.reset();
    RF_TRY(graph_.flush(stream_));  // a captured stream cannot copy from pageable memory
    // From pageable memory the call returns once the bytes are staged, so `src` may change after.
    return gpu_check(gpuMemcpyAsync(dst.bytes(), src, bytes, gpuMemcpyHostToDevice, stream_), "upload");
}

Status CudaBackend::download(void* dst, const float* src, size_t n_floats) {
    RF_TRY(graph_.direct(stream_));
    profile_.before_wait(stream_);
    if (n_floats)
        RF_TRY(gpu_check(gpuMemcpyAsync(dst, src, n_floats * sizeof(float), gpuMemcpyDeviceToHost, stream_), "download"));
    Status synced = synchronize("download");
    profile_.after_wait();
    return synced;
}

Status CudaBackend::download_rows(float* dst, int64_t dst_stride, const Act& src) {
    RF_TRY(graph_.direct(stream_));
    profile_.before_wait(stream_);
    if (src.rows > 0 && src.cols > 0)
        RF_TRY(gpu_check(gpuMemcpy2DAsync(dst, static_cast<size_t>(dst_stride) * sizeof(float), src.data,
                                          static_cast<size_t>(src.stride) * sizeof(float),
                                          static_cast<size_t>(src.cols) * sizeof(float), static_cast<size_t>(src.rows),
                                          gpuMemcpyDeviceToHost, stream_),
                         "download of rows"));
    Status synced = synchronize("download of rows");
    profile_.after_wait();
    return synced;
}

Status CudaBackend::synchronize(std::string_view during) {
    int fault = kFaultNone;
    RF_TRY(gpu_check(gpuMemcpyAsync(&fault, error_word_.bytes(), sizeof(int), gpuMemcpyDeviceToHost, stream_),
                     "reading the error word"));
    RF_TRY(gpu_check(gpuStreamSynchronize(stream_), during));
    if (fault == kFaultNone) return ok_status();
    RF_TRY(gpu_check(gpuMemsetAsync(error_word_.bytes(), 0, sizeof(int), stream_), "clearing the error word"));
    switch (fault) {
        case kFaultTokenId: return make_error("embed: a token id is outside the vocabulary");
        case kFaultExpertId: return make_error("matmul_experts: an expert id is out of range");
        case kFaultCacheSlot: return make_error("KV cache: a slot or block is outside the cache");
        case kFaultRow: return make_error("gather_rows: a row is outside the input");
        default: return make_error("a GPU kernel reported fault {}", fault);
    }
}

Result<void*> CudaBackend::scratch(int slot, size_t bytes) {
    DeviceBuffer& buffer = scratch_[slot];
    if (buffer.size_bytes() < bytes) {
        // The old buffer may still be read by queued kernels: wait for them first (rare after the
        // first steps).
        RF_TRY(graph_.flush(stream_));
        RF_TRY(gpu_check(gpuStreamSynchronize(stream_), "growing a scratch buffer"));
        if (slot == 0) quantized_.reset();
        buffer = DeviceBuffer();
        RF_ASSIGN_OR_RETURN(buffer, allocate(bytes + bytes / 4));
    }
    return static_cast<void*>(buffer.bytes());
}

Result<SplitWorkspace> CudaBackend::split_workspace(int64_t rows, int64_t tokens, int64_t cols) {
    const size_t floats = int8_tiles_partial_floats(rows, tokens, cols);
    if (floats == 0) return SplitWorkspace{};
    if (split_counters_.size_bytes() == 0) {
        RF_TRY(graph_.flush(stream_));  // not captured: cleared once
        RF_ASSIGN_OR_RETURN(split_counters_, allocate(kSplitCounters * sizeof(int)));
        RF_TRY(gpu_check(gpuMemsetAsync(split_counters_.bytes(), 0, split_counters_.size_bytes(), stream_),
                         "clearing the split counters"));
    }
    RF_ASSIGN_OR_RETURN(void* partials, scratch(3, floats * sizeof(float)));
    return SplitWorkspace{.partials = static_cast<float*>(partials),
                          .partial_floats = floats,
                          .counters = reinterpret_cast<int*>(split_counters_.bytes()),
                          .n_counters = kSplitCounters};
}

namespace {

// Formats without a kernel become Q8_0 at load (F16 where rows are not whole Q8_0 blocks).
TensorType conversion_target(int64_t cols) { return cols % 32 == 0 ? TensorType::Q8_0 : TensorType::F16; }

Result<WeightMatrix> convert_for_gpu(const WeightMatrix& host, std::vector<uint8_t>& bytes) {
    const TensorType target = conversion_target(host.cols);
    RF_ASSIGN_OR_RETURN(size_t row_bytes, quant::quantized_size(target, static_cast<size_t>(host.cols)));
    const int64_t rows = host.rows * host.count;
    bytes.resize(row_bytes * static_cast<size_t>(rows));
    std::vector<float> values(static_cast<size_t>(host.cols));
    for (int64_t r = 0; r < rows; ++r) {
        RF_TRY(quant::dequantize_row(host.type, {host.row(r), host.row_bytes}, std::span<float>(values)));
        RF_TRY(quant::quantize_row(target, std::span<const float>(values), {bytes.data() + r * row_bytes, row_bytes}));
    }
    std::fprintf(stderr, "cuda: %s weights (%lld x %lld) have no GPU kernel: converted to %s, %lld bytes instead of %lld\n",
                 std::string(tensor_type_name(host.type)).c_str(), static_cast<long long>(rows),
                 static_cast<long long>(host.cols), std::string(tensor_type_name(target)).c_str(),
                 static_cast<long long>(bytes.size()), static_cast<long long>(host.row_bytes * rows));
    WeightMatrix w = host;
    w.type = target;
    w.row_bytes = row_bytes;
    return w;
}

}  // namespace

Backend::WeightSupport CudaBackend::weight_support(TensorType type, int64_t cols) const {
    if (has_gpu_kernel(type)) return {true, type};
    if (quant::can_dequantize(type)) return {true, conversion_target(cols)};
    return {false, type};
}

Result<WeightMatrix> CudaBackend::import_weight(const WeightMatrix& host, bool) {
    if (host.rows <= 0 || host.cols <= 0 || host.count <= 0 || host.layout != WeightLayout::Rows)
        return make_error("cuda: cannot import a {}x{} weight in a CPU layout", host.rows, host.cols);
    std::lock_guard lock(import_mutex_);
    if (auto it = imported_.find(host.data); it != imported_.end()) {
        const WeightMatrix& m = it->second.matrix;
        std::shared_ptr<void> alive = it->second.storage.lock();
        if (alive && m.rows == host.rows && m.cols == host.cols && m.count == host.count) {
            WeightMatrix w = m;
            w.storage = DeviceBuffer(std::move(alive), w.matrix_bytes() * static_cast<size_t>(w.count));
            return w;
        }
        imported_.erase(it);
    }
    WeightMatrix w = host;
    std::vector<uint8_t> converted;
    if (!has_gpu_kernel(host.type)) {
        if (!quant::can_dequantize(host.type))
            return make_error("cuda: weights of type {} are not supported", tensor_type_name(host.type));
        RF_ASSIGN_OR_RETURN(w, convert_for_gpu(host, converted));
    }
    const size_t bytes = w.matrix_bytes() * static_cast<size_t>(w.count);
    auto buffer = allocate(bytes);
    if (!buffer) return make_error("loading a {} weight of {} MiB: {}", tensor_type_name(host.type), bytes >> 20, buffer.error().message);
    const void* src = converted.empty() ? static_cast<const void*>(host.data) : converted.data();
    // On the compute stream, so that no kernel can read the weight before it arrived.
    RF_TRY(graph_.flush(stream_));
    RF_TRY(gpu_check(gpuMemcpyAsync(buffer->bytes(), src, bytes, gpuMemcpyHostToDevice, stream_), "weight upload"));
    w.data = buffer->bytes();
    imported_.emplace(host.data, Imported{w, buffer->watch()});
    w.storage = *buffer;
    return w;
}

CudaKvStorage::CudaKvStorage(const KvCacheShape& shape, DeviceBuffer memory) : shape_(shape), memory_(std::move(memory)) {}

int64_t CudaKvStorage::bytes_per_block(const KvCacheShape& s) {
    const int64_t elem = s.type == KvType::F16 ? 2 : 4;
    return s.n_layers * s.block_size * s.n_kv_heads * (s.head_dim_k + s.head_dim_v) * elem;
}

Result<std::unique_ptr<KvStorage>> CudaBackend::create_kv_storage(const KvCacheShape& shape) {
    if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim_k <= 0 || shape.head_dim_v <= 0 ||
        shape.block_size <= 0 || shape.n_blocks <= 0 || shape.head_dim_k > kMaxHeadDim || shape.head_dim_v > kMaxHeadDim)
        return make_error("kv cache: invalid shape (head sizes up to {} are supported)", kMaxHeadDim);
    const int64_t bytes = CudaKvStorage::bytes_per_block(shape) * shape.n_blocks;
    auto memory = allocate(static_cast<size_t>(bytes));
    if (!memory) return make_error("kv cache of {} blocks: {}", shape.n_blocks, memory.error().message);
    // Zeroed so that a read of a never-written slot (a bug) gives zeros, not NaN.
    RF_TRY(graph_.flush(stream_));
    RF_TRY(gpu_check(gpuMemsetAsync(memory->bytes(), 0, static_cast<size_t>(bytes), stream_), "clearing the kv cache"));
    return std::unique_ptr<KvStorage>(new CudaKvStorage(shape, *memory));
}

}  // namespace rf::gpu
