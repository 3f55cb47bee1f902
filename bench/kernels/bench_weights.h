// Benchmark weights: matrices of any type filled quickly (a few quantized rows repeated), so
// that model-sized buffers (hundreds of MB) can be made in seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "backend/weight_matrix.h"
#include "core/huge_pages.h"

namespace rf::bench {

struct OwnedMatrix {
    HugePageBytes bytes;
    size_t size = 0;
    WeightMatrix view;
};

// rows x cols of `type`: 16 distinct rows of random values, quantized, repeated down the matrix.
// On huge pages, as the model's weights are when loaded (core/mapped_file.h).
OwnedMatrix make_matrix(TensorType type, int64_t rows, int64_t cols);

// Activations on 64-byte boundaries, as the backend allocates them (new[] gives 16 bytes, and a
// vector load across two cache lines would make the products look slower than in the model).
template <typename T>
struct CacheLineAllocator {
    using value_type = T;
    CacheLineAllocator() = default;
    template <typename U>
    CacheLineAllocator(const CacheLineAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
    bool operator==(const CacheLineAllocator&) const { return true; }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

AlignedFloats random_activations(int64_t n);

}  // namespace rf::bench
