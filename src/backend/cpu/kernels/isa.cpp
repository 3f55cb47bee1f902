#include "backend/cpu/kernels/isa.h"

#include <vector>

namespace rf::cpu {

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "?";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
    switch (isa) {
        case Isa::Scalar: return true;
        case Isa::Avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
        case Isa::Avx512:
            return isa_supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512vnni");
    }
    return false;
#else
    return isa == Isa::Scalar;
#endif
}

std::span<const Isa> supported_isas() {
    static const std::vector<Isa> isas = [] {
        std::vector<Isa> found;
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
            if (isa_supported(isa)) found.push_back(isa);
        return found;
    }();
    return isas;
}

Isa best_isa() { return supported_isas().back(); }

}  // namespace rf::cpu
