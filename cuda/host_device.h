// Code compiled both by the host compiler and by nvcc for the device: the CPU reference and the
// CUDA kernels share token generation and the top-k tree this way, so both sides compute alike.
#pragma once

#if defined(__CUDACC__)
#define MOESIM_HD __host__ __device__ __forceinline__
#else
#define MOESIM_HD inline
#endif

// Full unrolling, in the pragma each compiler understands. nvcc's host pass gets none: it
// understands neither pragma, and a kernel's host side never runs device code.
#if defined(__CUDA_ARCH__)
#define MOESIM_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define MOESIM_UNROLL
#else
#define MOESIM_UNROLL _Pragma("GCC unroll 64")
#endif
