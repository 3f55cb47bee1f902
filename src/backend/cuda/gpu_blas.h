// The BLAS library's names, spelled once like gpu_runtime.h's: cuBLAS, or hipBLAS in a HIP build.
// Host code only (cuda_ops.cpp, cuda_backend.cpp).
#pragma once

#if defined(ROCMFORGE_USE_HIP)
// hipblasGemmEx with hipDataType and hipblasComputeType_t: hipBLAS 2 (ROCm 6) or later. (The HIP
// compile check covers the kernels only; this host code has not been built against hipBLAS.)
#define HIPBLAS_V2
#include <hipblas/hipblas.h>
using gpublasHandle_t = hipblasHandle_t;
using gpublasStatus_t = hipblasStatus_t;
inline constexpr gpublasStatus_t gpublasSuccess = HIPBLAS_STATUS_SUCCESS;
#define gpublasCreate hipblasCreate
#define gpublasDestroy hipblasDestroy
#define gpublasSetStream hipblasSetStream
#define gpublasSgemm hipblasSgemm
#define gpublasGemmEx hipblasGemmEx
#define gpublasSetPointerMode hipblasSetPointerMode
#define GPUBLAS_OP_N HIPBLAS_OP_N
#define GPUBLAS_OP_T HIPBLAS_OP_T
#define GPUBLAS_POINTER_MODE_HOST HIPBLAS_POINTER_MODE_HOST
#define GPUBLAS_POINTER_MODE_DEVICE HIPBLAS_POINTER_MODE_DEVICE
#define GPUBLAS_R_16F HIP_R_16F
#define GPUBLAS_R_16BF HIP_R_16BF
#define GPUBLAS_R_32F HIP_R_32F
#define GPUBLAS_COMPUTE_32F HIPBLAS_COMPUTE_32F
#define GPUBLAS_GEMM_DEFAULT HIPBLAS_GEMM_DEFAULT
#else
#include <cublas_v2.h>
using gpublasHandle_t = cublasHandle_t;
using gpublasStatus_t = cublasStatus_t;
inline constexpr gpublasStatus_t gpublasSuccess = CUBLAS_STATUS_SUCCESS;
#define gpublasCreate cublasCreate
#define gpublasDestroy cublasDestroy
#define gpublasSetStream cublasSetStream
#define gpublasSgemm cublasSgemm
#define gpublasGemmEx cublasGemmEx
#define gpublasSetPointerMode cublasSetPointerMode
#define GPUBLAS_OP_N CUBLAS_OP_N
#define GPUBLAS_OP_T CUBLAS_OP_T
#define GPUBLAS_POINTER_MODE_HOST CUBLAS_POINTER_MODE_HOST
#define GPUBLAS_POINTER_MODE_DEVICE CUBLAS_POINTER_MODE_DEVICE
#define GPUBLAS_R_16F CUDA_R_16F
#define GPUBLAS_R_16BF CUDA_R_16BF
#define GPUBLAS_R_32F CUDA_R_32F
#define GPUBLAS_COMPUTE_32F CUBLAS_COMPUTE_32F
#define GPUBLAS_GEMM_DEFAULT CUBLAS_GEMM_DEFAULT
#endif
