// The dot product of two float vectors, the HNSW index's similarity (its vectors are unit length,
// so this is their cosine). Chosen at run time: AVX-512 or AVX2 where the CPU has them, plain C++
// elsewhere, so the library still runs on any x86-64 CPU; hnswlib's own SIMD paths exist only
// when a whole file is compiled for AVX, which this project does not do.
#pragma once

#include <cstddef>

namespace rf::context {

using DotFn = float (*)(const float* a, const float* b, size_t n);

// The fastest version this CPU runs.
DotFn best_dot();
// Every version this CPU runs, scalar first (for tests against the scalar one).
struct DotVersion {
    const char* name;
    DotFn fn;
};
size_t dot_versions(DotVersion* out, size_t capacity);

}  // namespace rf::context
