// Internal: the scalar kernels, one function per weight family, registered by scalar_kernel().
#pragma once

#include "backend/cpu/kernels/row_kernels.h"

namespace rf::cpu::detail {

RowDotFn scalar_legacy_kernel(TensorType type);  // scalar_legacy.cpp: 32-value blocks
RowDotFn scalar_kquant_kernel(TensorType type);  // scalar_kquants.cpp: 256-value super-blocks
RowDotFn scalar_float_kernel(TensorType type);   // scalar_float.cpp: F32, F16, BF16

}  // namespace rf::cpu::detail
