// The BLAS library's names, spelled once like gpu_runtime.h's: cuBLAS, or hipBLAS in a HIP build.
// Host code only (cuda_ops.cpp, cuda_backend.cpp).
#pragma once

#if defined(ROCMFORGE_USE_HIP)
#include <hipblas/hipblas.h>
using gpublasHandle_t = hipblasHandle_t;
using gpublasStatus_t = hipblasStatus_t;
inline constexpr gpublasStatus_t gpublasSuccess = HIPBLAS_STATUS_SUCCESS;
#define gpublasCreate hipblasCreate
#define gpublasDestroy hipblasDestroy
#define gpublasSetStream hipblasSetStream
#define gpublasSgemm hipblasSgemm
#define GPUBLAS_OP_N HIPBLAS_OP_N
#define GPUBLAS_OP_T HIPBLAS_OP_T
#else
#include <cublas_v2.h>
using gpublasHandle_t = cublasHandle_t;
using gpublasStatus_t = cublasStatus_t;
inline constexpr gpublasStatus_t gpublasSuccess = CUBLAS_STATUS_SUCCESS;
#define gpublasCreate cublasCreate
#define gpublasDestroy cublasDestroy
#define gpublasSetStream cublasSetStream
#define gpublasSgemm cublasSgemm
#define GPUBLAS_OP_N CUBLAS_OP_N
#define GPUBLAS_OP_T CUBLAS_OP_T
#endif
