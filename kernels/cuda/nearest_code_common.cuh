// Device helpers shared by the CUDA nearest-code kernels (nearest_code.cu,
// nearest_code_gemm.cu): the lexicographic (value, index) minimum and its warp
// reduction, the row-norm kernel, the finalize kernel that turns merged partial minima
// into indices and scores, a device workspace, and the internal launcher of the
// cuBLAS + argmin path. Included only by .cu files.
#pragma once
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "core/cuda/context.h"
#include "core/storage.h"

namespace vq::cuda::nc {

// Device scratch from the caching allocator (stream-ordered reuse is safe: all vqcpp
// work on a device runs on its one stream).
class DeviceBuf {
 public:
  DeviceBuf(size_t nbytes, int device)
      : n_(nbytes ? nbytes : 1), dev_(Device{DeviceType::CUDA, device}), p_(device_alloc(n_, dev_)) {}
  ~DeviceBuf() { device_free(p_, n_, dev_); }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  size_t n_;
  Device dev_;
  void* p_;
};

// (v, i) beats (bv, bi): smaller value, or equal value and smaller index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
  return v < bv || (v == bv && i < bi);
}

// Lexicographic minimum over groups of `width` lanes (a power of two <= 32) of a warp;
// every lane of a group ends with the group's result. All 32 lanes must take part.
__device__ __forceinline__ void warp_min(float& v, int& i, int width) {
  for (int off = width / 2; off > 0; off /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, off);
    const int oi = __shfl_xor_sync(0xffffffffu, i, off);
    if (better(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// out[r] = sum_d a[r, d]^2, one warp per row (fixed order: deterministic). Host
// launchers only: kernels live in nearest_code.cu (no relocatable device code).
void row_sq_norms(float* out, const float* a, int64_t rows, int64_t D, cudaStream_t st);

// For each of H*N rows: merge S partial (value, index) minima (pv, pi laid out [S][H*N]),
// then idx = index, score = max(xn + value, 0) (Euclidean) or -value (inner product).
// xn [Hx*N] with head stride xn_hs (0 when x is shared by all heads).
void finalize(int64_t* idx, float* score, const float* pv, const int* pi, int S, int64_t H,
              int64_t N, const float* xn, int64_t xn_hs, bool ip, cudaStream_t st);

// cuBLAS SGEMM into row tiles of <= 256 MiB + warp-per-row argmin; writes one partial
// (value, index) per row into pv / pi ([H*N]). bias [Hc*K] (|c|^2 or 0; stride bias_hs).
void gemm_argmin_partial(float* pv, int* pi, const float* x, const float* codes,
                         const float* bias, int64_t bias_hs, int64_t H, int64_t N, int64_t K,
                         int64_t D, int64_t x_hs, int64_t c_hs, bool ip, int device);

// Row tile of the unfused paths: rows such that rows * K * 4 B <= 256 MiB.
inline int64_t gemm_tile_rows(int64_t N, int64_t K) {
  const int64_t budget = int64_t(256) << 20;
  int64_t t = budget / (K * int64_t(sizeof(float)));
  if (t < 1) t = 1;
  return t < N ? t : N;
}

}  // namespace vq::cuda::nc
