// Raw data movement used by Tensor: strided copies, dtype casts, fills and random
// fills, on CPU (core/copy_kernels.cpp) and CUDA (core/cuda/tensor_kernels.cu).
// Pointers are already offset; strides and shape are in elements. Internal to core/.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace vq::detail {

constexpr int kMaxDims = 12;

// dst[i] = src[i] for every multi-index of `shape`, with per-tensor element strides.
void cpu_copy_strided(void* dst, const int64_t* dst_strides, const void* src,
                      const int64_t* src_strides, const int64_t* shape, int ndim, size_t elem);
// Contiguous n elements from src_dtype to dst_dtype (round-to-nearest-even for 16-bit
// floats; float -> integer truncates toward zero like torch; nonzero -> 1 for bool).
void cpu_cast(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n);
void cpu_fill(void* dst, DType dtype, double value, int64_t n);
void cpu_rand_uniform(float* dst, int64_t n, uint64_t seed, uint64_t base, float lo, float hi);
void cpu_rand_normal(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std);

#ifdef VQ_WITH_CUDA
void cuda_copy_strided(void* dst, const int64_t* dst_strides, const void* src,
                       const int64_t* src_strides, const int64_t* shape, int ndim, size_t elem,
                       int device);
void cuda_cast(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n, int device);
void cuda_fill(void* dst, DType dtype, double value, int64_t n, int device);
void cuda_rand_uniform(float* dst, int64_t n, uint64_t seed, uint64_t base, float lo, float hi,
                       int device);
void cuda_rand_normal(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std,
                      int device);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device);
#endif

}  // namespace vq::detail
