// The instruction-set variants of the CPU kernels, and which of them this CPU can run.
#pragma once

#include <span>
#include <string_view>

namespace rf::cpu {

enum class Isa {
    Scalar,  // portable C++: the reference the SIMD variants are tested against
    Avx2,    // AVX2 + FMA + F16C
    Avx512,  // AVX-512 F/BW/VL + VNNI (integer dot products in one instruction)
};

std::string_view isa_name(Isa isa);
bool isa_supported(Isa isa);
// The fastest variant this CPU runs; matmul() uses it.
Isa best_isa();
// Every variant this CPU runs, slowest first.
std::span<const Isa> supported_isas();

}  // namespace rf::cpu
