// CUDA data movement for Tensor: strided copy, cast, fill, Philox random fills and
// host/device copies. Twins of core/copy_kernels.cpp; tested against them.
#include <cuda_runtime.h>

#include <cmath>

#include "core/copy_kernels.h"
#include "core/cuda/context.h"
#include "core/elem_convert.h"
#include "core/error.h"
#include "core/philox.h"

namespace vq::detail {

namespace {

struct StridedArgs {
  int64_t shape[kMaxDims];
  int64_t ds[kMaxDims];
  int64_t ss[kMaxDims];
  int ndim;
};

template <typename T>
__global__ void copy_strided_kernel(T* dst, const T* src, StridedArgs a, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, doff = 0, soff = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      int64_t c = rem % a.shape[d];
      rem /= a.shape[d];
      doff += c * a.ds[d];
      soff += c * a.ss[d];
    }
    dst[doff] = src[soff];
  }
}

__global__ void cast_kernel(void* dst, DType dt, const void* src, DType st, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    ec_store(dst, dt, i, ec_load(src, st, i));
}

__global__ void fill_kernel(void* dst, DType dt, double v, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    ec_store(dst, dt, i, v);
}

__global__ void uniform_kernel(float* dst, int64_t n, uint64_t seed, uint64_t base, float lo,
                               float hi) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    Philox4 r = philox4x32(seed, base + static_cast<uint64_t>(i));
    dst[i] = lo + (hi - lo) * philox_uniform(r.v[0]);
  }
}

__global__ void normal_kernel(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean,
                              float std) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    Philox4 r = philox4x32(seed, base + static_cast<uint64_t>(i));
    float u1 = philox_uniform(r.v[0]) + (1.0f / 16777216.0f);
    float u2 = philox_uniform(r.v[1]);
    // Full-precision libm calls (no fast-math) keep CPU and GPU within an ulp or two.
    float z = sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
    dst[i] = mean + std * z;
  }
}

}  // namespace

void cuda_copy_strided(void* dst, const int64_t* ds, const void* src, const int64_t* ss,
                       const int64_t* shape, int ndim, size_t elem, int device) {
  StridedArgs a{};
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    a.shape[d] = shape[d];
    a.ds[d] = ds[d];
    a.ss[d] = ss[d];
    n *= shape[d];
  }
  a.ndim = ndim;
  if (n == 0) return;
  cudaStream_t s = cuda::stream(device);
  unsigned g = cuda::grid_for(n);
  switch (elem) {
    case 1: copy_strided_kernel<<<g, 256, 0, s>>>((uint8_t*)dst, (const uint8_t*)src, a, n); break;
    case 2: copy_strided_kernel<<<g, 256, 0, s>>>((uint16_t*)dst, (const uint16_t*)src, a, n); break;
    case 4: copy_strided_kernel<<<g, 256, 0, s>>>((uint32_t*)dst, (const uint32_t*)src, a, n); break;
    default: copy_strided_kernel<<<g, 256, 0, s>>>((uint64_t*)dst, (const uint64_t*)src, a, n); break;
  }
  cuda::check_launch("copy_strided_kernel");
}

void cuda_cast(void* dst, DType dt, const void* src, DType st, int64_t n, int device) {
  if (n == 0) return;
  cast_kernel<<<cuda::grid_for(n), 256, 0, cuda::stream(device)>>>(dst, dt, src, st, n);
  cuda::check_launch("cast_kernel");
}

void cuda_fill(void* dst, DType dt, double v, int64_t n, int device) {
  if (n == 0) return;
  fill_kernel<<<cuda::grid_for(n), 256, 0, cuda::stream(device)>>>(dst, dt, v, n);
  cuda::check_launch("fill_kernel");
}

void cuda_rand_uniform(float* dst, int64_t n, uint64_t seed, uint64_t base, float lo, float hi,
                       int device) {
  if (n == 0) return;
  uniform_kernel<<<cuda::grid_for(n), 256, 0, cuda::stream(device)>>>(dst, n, seed, base, lo, hi);
  cuda::check_launch("uniform_kernel");
}

void cuda_rand_normal(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std,
                      int device) {
  if (n == 0) return;
  normal_kernel<<<cuda::grid_for(n), 256, 0, cuda::stream(device)>>>(dst, n, seed, base, mean, std);
  cuda::check_launch("normal_kernel");
}

void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device) {
  if (nbytes == 0) return;
  cudaStream_t s = cuda::stream(device);
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  cuda::check(cudaMemcpyAsync(dst, src, nbytes, k, s), "cudaMemcpyAsync");
  if (kind != CopyKind::DeviceToDevice) cuda::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

}  // namespace vq::detail
