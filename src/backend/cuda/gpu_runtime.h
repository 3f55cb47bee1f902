// The one place where GPU runtime names are spelled. Device code and host code in src/backend/cuda
// use only the gpu* names below, so a HIP/ROCm build is a recompile with ROCMFORGE_USE_HIP defined.
#pragma once

#if defined(ROCMFORGE_USE_HIP)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
using gpuHalf = __half;
using gpuError_t = hipError_t;
using gpuDeviceProp = hipDeviceProp_t;
using gpuStream_t = hipStream_t;
using gpuEvent_t = hipEvent_t;
inline constexpr gpuError_t gpuSuccess = hipSuccess;
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuSetDevice hipSetDevice
#define gpuGetErrorString hipGetErrorString
#define gpuGetLastError hipGetLastError
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuMemsetAsync hipMemsetAsync
#define gpuStreamNonBlocking hipStreamNonBlocking
#define gpuStreamCreateWithFlags hipStreamCreateWithFlags
#define gpuFuncSetAttribute hipFuncSetAttribute
#define gpuFuncAttributeMaxDynamicSharedMemorySize hipFuncAttributeMaxDynamicSharedMemorySize
#define gpuErrorMemoryAllocation hipErrorOutOfMemory
#define gpuErrorInvalidValue hipErrorInvalidValue
// 32-lane shuffles: kernels work in groups of 32 lanes, which a wave64 holds twice.
#define gpu_shfl_xor(value, lane_mask) __shfl_xor((value), (lane_mask), 32)
#define gpu_shfl(value, lane) __shfl((value), (lane), 32)
// A wavefront runs its lanes together: ordering its shared-memory accesses is enough.
#define gpu_syncwarp()                                            \
    do {                                                          \
        __builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "wavefront");    \
        __builtin_amdgcn_wave_barrier();                          \
    } while (0)
#define gpuMemGetInfo hipMemGetInfo
#define gpuDeviceSynchronize hipDeviceSynchronize
#define gpuDriverGetVersion hipDriverGetVersion
#define gpuRuntimeGetVersion hipRuntimeGetVersion
#define gpuStreamCreate hipStreamCreate
#define gpuStreamDestroy hipStreamDestroy
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuEventCreate hipEventCreate
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuEventDestroy hipEventDestroy
using gpuGraph_t = hipGraph_t;
using gpuGraphExec_t = hipGraphExec_t;
#define gpuStreamBeginCapture hipStreamBeginCapture
#define gpuStreamEndCapture hipStreamEndCapture
#define gpuStreamCaptureModeRelaxed hipStreamCaptureModeRelaxed
#define gpuGraphInstantiate(exec, graph) hipGraphInstantiate((exec), (graph), nullptr, nullptr, 0)
#define gpuGraphLaunch hipGraphLaunch
#define gpuGraphDestroy hipGraphDestroy
#define gpuGraphExecDestroy hipGraphExecDestroy
// Whether `exec` took `graph`'s parameters in place (same topology).
inline bool gpuGraphExecUpdated(gpuGraphExec_t exec, gpuGraph_t graph) {
    hipGraphNode_t node = nullptr;
    hipGraphExecUpdateResult result;
    return hipGraphExecUpdate(exec, graph, &node, &result) == hipSuccess;
}
inline constexpr int kGpuWarpSize = 64;  // CDNA wavefront; RDNA builds may use 32
#else
#include <cuda_fp16.h>
#include <cuda_runtime.h>
using gpuHalf = __half;
using gpuError_t = cudaError_t;
using gpuDeviceProp = cudaDeviceProp;
using gpuStream_t = cudaStream_t;
using gpuEvent_t = cudaEvent_t;
inline constexpr gpuError_t gpuSuccess = cudaSuccess;
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuSetDevice cudaSetDevice
#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuMemsetAsync cudaMemsetAsync
#define gpuStreamNonBlocking cudaStreamNonBlocking
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuFuncSetAttribute cudaFuncSetAttribute
#define gpuFuncAttributeMaxDynamicSharedMemorySize cudaFuncAttributeMaxDynamicSharedMemorySize
#define gpuErrorMemoryAllocation cudaErrorMemoryAllocation
#define gpuErrorInvalidValue cudaErrorInvalidValue
#define gpu_shfl_xor(value, lane_mask) __shfl_xor_sync(0xffffffffu, (value), (lane_mask), 32)
#define gpu_shfl(value, lane) __shfl_sync(0xffffffffu, (value), (lane), 32)
#define gpu_syncwarp() __syncwarp()
#define gpuMemGetInfo cudaMemGetInfo
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define gpuDriverGetVersion cudaDriverGetVersion
#define gpuRuntimeGetVersion cudaRuntimeGetVersion
#define gpuStreamCreate cudaStreamCreate
#define gpuStreamDestroy cudaStreamDestroy
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuEventCreate cudaEventCreate
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuEventDestroy cudaEventDestroy
using gpuGraph_t = cudaGraph_t;
using gpuGraphExec_t = cudaGraphExec_t;
#define gpuStreamBeginCapture cudaStreamBeginCapture
#define gpuStreamEndCapture cudaStreamEndCapture
#define gpuStreamCaptureModeRelaxed cudaStreamCaptureModeRelaxed
#define gpuGraphInstantiate(exec, graph) cudaGraphInstantiate((exec), (graph), 0)
#define gpuGraphLaunch cudaGraphLaunch
#define gpuGraphDestroy cudaGraphDestroy
#define gpuGraphExecDestroy cudaGraphExecDestroy
// Whether `exec` took `graph`'s parameters in place (same topology).
inline bool gpuGraphExecUpdated(gpuGraphExec_t exec, gpuGraph_t graph) {
    cudaGraphExecUpdateResultInfo info;
    return cudaGraphExecUpdate(exec, graph, &info) == cudaSuccess;
}
inline constexpr int kGpuWarpSize = 32;
#endif

#if defined(__CUDACC__) || defined(__HIPCC__)
// Sums and maxima over a group of 32 lanes; every lane gets the result.
__device__ __forceinline__ float group_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += gpu_shfl_xor(v, offset);
    return v;
}
__device__ __forceinline__ float group_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, gpu_shfl_xor(v, offset));
    return v;
}
#endif
