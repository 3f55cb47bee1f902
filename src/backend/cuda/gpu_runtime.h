// The one place where GPU runtime names are spelled. Device code and host code in src/backend/cuda
// use only the gpu* names below, so a HIP/ROCm build is a recompile with ROCMFORGE_USE_HIP defined.
#pragma once

#include <cstdlib>
#include <utility>

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
#define gpuMallocHost(ptr, bytes) hipHostMalloc(ptr, bytes, hipHostMallocDefault)
#define gpuFreeHost hipHostFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemcpy2DAsync hipMemcpy2DAsync
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
// Errors that leave the context unusable: every later call fails too (the device is lost).
inline bool gpu_error_is_sticky(gpuError_t e) {
    return e == hipErrorIllegalAddress || e == hipErrorLaunchFailure || e == hipErrorLaunchTimeOut ||
           e == hipErrorAssert || e == hipErrorECCNotCorrectable;
}
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
#define gpuMallocHost cudaMallocHost
#define gpuFreeHost cudaFreeHost
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemcpy2DAsync cudaMemcpy2DAsync
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
// Errors that leave the context unusable: every later call fails too (the device is lost).
inline bool gpu_error_is_sticky(gpuError_t e) {
    switch (e) {
        case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorLaunchTimeout:
        case cudaErrorHardwareStackError: case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace: case cudaErrorInvalidPc: case cudaErrorAssert:
        case cudaErrorECCUncorrectable: return true;
        default: return false;
    }
}
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

// Int8 tensor-core tiles for a group of 32 lanes: c (16 x 8, int32) += a (16 x k, int8) b (k x 8),
// k = 32 or 16, fragments as PTX's mma.m16n8k32 / m16n8k16 .s8 lay them out. Lane 4 * g + t
// (g < 8, t < 4) holds, as four packed int8 each: a0 = a[g][4t..4t+3], a1 = a[g + 8][4t..4t+3],
// a2 = a[g][16 + 4t..], a3 = a[g + 8][16 + 4t..]; b0 = b[4t..4t+3][g], b1 = b[16 + 4t..][g]; and
// c[g][2t], c[g][2t + 1], c[g + 8][2t], c[g + 8][2t + 1]. HIP builds run a shuffle-and-dot-product
// stand-in with the same layout (correct, not fast: AMD's matrix cores lay fragments out otherwise).
#if !defined(ROCMFORGE_USE_HIP)
// Copies from global to shared memory that run while the thread goes on (cp.async): a thread's
// copies are done once it has called gpu_copy_wait(); a __syncthreads() after it publishes them.
__device__ __forceinline__ void gpu_copy_async16(void* shared, const void* global) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(static_cast<unsigned>(__cvta_generic_to_shared(shared))),
                 "l"(global));
}
__device__ __forceinline__ void gpu_copy_async4(void* shared, const void* global) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(static_cast<unsigned>(__cvta_generic_to_shared(shared))),
                 "l"(global));
}
__device__ __forceinline__ void gpu_copy_wait() { asm volatile("cp.async.wait_all;" ::: "memory"); }
// Pipelines of copies: gpu_copy_commit() closes a group of the thread's copies so far;
// gpu_copy_wait_pending<N>() waits until at most the N groups committed last are still running.
__device__ __forceinline__ void gpu_copy_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// A load that skips this SM's L1 (where another block's writes may not be), as after a fence.
__device__ __forceinline__ float gpu_load_coherent(const float* p) { return __ldcg(p); }
template <int N> __device__ __forceinline__ void gpu_copy_wait_pending() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
__device__ __forceinline__ void gpu_mma_s8_k32(int (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                               unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void gpu_mma_s8_k16(int (&c)[4], unsigned a0, unsigned a1, unsigned b0) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a0), "r"(a1), "r"(b0));
}
// c (16 x 8, f32) += a (16 x 16, f16) b (16 x 8, f16), fragments as PTX's mma.m16n8k16 .f16 lays
// them out: each register two f16, a0 = a[g][2t, 2t + 1], a1 = a[g + 8][2t..], a2 = a[g][8 + 2t..],
// a3 = a[g + 8][8 + 2t..]; b0 = b[2t, 2t + 1][g], b1 = b[8 + 2t..][g]; c as above.
__device__ __forceinline__ void gpu_mma_f16_k16(float (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                                unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
#else
__device__ __forceinline__ void gpu_copy_async16(void* shared, const void* global) {
    *static_cast<uint4*>(shared) = *static_cast<const uint4*>(global);
}
__device__ __forceinline__ void gpu_copy_async4(void* shared, const void* global) {
    *static_cast<unsigned*>(shared) = *static_cast<const unsigned*>(global);
}
__device__ __forceinline__ void gpu_copy_wait() {}
__device__ __forceinline__ void gpu_copy_commit() {}
__device__ __forceinline__ float gpu_load_coherent(const float* p) { return *static_cast<const volatile float*>(p); }
template <int N> __device__ __forceinline__ void gpu_copy_wait_pending() {}
__device__ __forceinline__ int gpu_dot4_s8(unsigned a, unsigned b, int c) {
    for (int k = 0; k < 4; ++k) c += static_cast<signed char>(a >> (8 * k)) * static_cast<signed char>(b >> (8 * k));
    return c;
}
// The stand-ins' walk over the fragments: dot(a, b, c) is c plus the dot product of two registers
// of packed values (four int8, or two f16).
template <typename T, typename Dot>
__device__ __forceinline__ void gpu_mma_stand_in(T (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                                 unsigned b0, unsigned b1, Dot dot) {
    const int lane = static_cast<int>(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
    for (int q = 0; q < 4; ++q) {
        const unsigned r0 = gpu_shfl(a0, 4 * g + q), r1 = gpu_shfl(a1, 4 * g + q);
        const unsigned r2 = gpu_shfl(a2, 4 * g + q), r3 = gpu_shfl(a3, 4 * g + q);
        for (int n = 0; n < 2; ++n) {
            const unsigned k0 = gpu_shfl(b0, 4 * (2 * t + n) + q), k1 = gpu_shfl(b1, 4 * (2 * t + n) + q);
            c[n] = dot(r0, k0, dot(r2, k1, c[n]));
            c[2 + n] = dot(r1, k0, dot(r3, k1, c[2 + n]));
        }
    }
}
__device__ __forceinline__ void gpu_mma_s8_k32(int (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                               unsigned b0, unsigned b1) {
    gpu_mma_stand_in(c, a0, a1, a2, a3, b0, b1, gpu_dot4_s8);
}
__device__ __forceinline__ void gpu_mma_s8_k16(int (&c)[4], unsigned a0, unsigned a1, unsigned b0) {
    gpu_mma_s8_k32(c, a0, a1, 0u, 0u, b0, 0u);
}
__device__ __forceinline__ float gpu_dot2_f16(unsigned a, unsigned b, float acc) {
    const __half2 x = *reinterpret_cast<const __half2*>(&a), y = *reinterpret_cast<const __half2*>(&b);
    return acc + __low2float(x) * __low2float(y) + __high2float(x) * __high2float(y);
}
__device__ __forceinline__ void gpu_mma_f16_k16(float (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                                unsigned b0, unsigned b1) {
    gpu_mma_stand_in(c, a0, a1, a2, a3, b0, b1, gpu_dot2_f16);
}
#endif

// Programmatic dependent launch (Hopper and later, CUDA): a kernel launched by gpu_launch may start
// while the kernel before it in the stream is still running, so that its launch and its blocks'
// set-up hide behind the other's last blocks instead of following its end. Hence every kernel that
// gpu_launch starts begins with gpu_kernel_prologue(), before it reads or writes anything: it waits
// until the kernels before it have finished and their writes are visible (at once when the launch
// was a plain one), then lets the next kernel launch. A kernel that skipped it could read its input
// before it is written. On other cards and in HIP builds both are nothing.
__device__ __forceinline__ void gpu_kernel_prologue() {
#if !defined(ROCMFORGE_USE_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether launches are dependent ones: with ROCMFORGE_GPU_DEPENDENT_LAUNCH=1, on cards of compute
// capability 9 and later. Off by default: measured on an H100 (docs/performance.md), they changed
// a decode step by -2% to +1% and slowed 512-token prompt steps by 6%. Decided once per process,
// from the device current at the first launch.
inline bool gpu_dependent_launch_on() {
#if defined(ROCMFORGE_USE_HIP)
    return false;
#else
    static const bool on = [] {
        const char* env = std::getenv("ROCMFORGE_GPU_DEPENDENT_LAUNCH");
        if (!env || env[0] != '1' || env[1] != '\0') return false;
        int device = 0, major = 0;
        if (cudaGetDevice(&device) != cudaSuccess ||
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        return major >= 9;
    }();
    return on;
#endif
}

// kernel<<<grid, block, shared, stream>>>(args...), as a dependent launch where gpu_dependent_launch_on().
// Errors are left for gpuGetLastError(), as with <<<>>>.
template <typename... Params, typename... Args>
void gpu_launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared, gpuStream_t stream, Args&&... args) {
#if defined(ROCMFORGE_USE_HIP)
    hipLaunchKernelGGL(kernel, grid, block, shared, stream, std::forward<Args>(args)...);
#else
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = shared;
    config.stream = stream;
    cudaLaunchAttribute dependent[1] = {};
    dependent[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    dependent[0].val.programmaticStreamSerializationAllowed = 1;
    if (gpu_dependent_launch_on()) {
        config.attrs = dependent;
        config.numAttrs = 1;
    }
    cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
#endif
}
#endif
