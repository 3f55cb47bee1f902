// The x86 kernel table of one ISA variant (see x86_simd.h for how this file is compiled).
#pragma once

#include "backend/cpu/kernels/x86_float.h"
#include "backend/cpu/kernels/x86_kquants.h"
#include "backend/cpu/kernels/x86_legacy.h"

namespace rf::cpu::detail::RF_SIMD_NS {
namespace {

RowDotFn any_kernel(TensorType type) {
    if (auto fn = legacy_kernel(type)) return fn;
    if (auto fn = kquant_kernel(type)) return fn;
    return float_kernel(type);
}

}  // namespace
}  // namespace rf::cpu::detail::RF_SIMD_NS
