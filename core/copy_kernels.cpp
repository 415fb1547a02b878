// CPU data movement for Tensor: strided copies, casts, fills, Philox random fills.
#include "core/copy_kernels.h"

#include <cmath>
#include <cstring>

#include "core/elem_convert.h"
#include "core/philox.h"

namespace vq::detail {

namespace {

template <typename T>
void copy_strided_t(T* dst, const int64_t* ds, const T* src, const int64_t* ss, const int64_t* shape,
                    int ndim) {
  if (ndim == 0) {
    dst[0] = src[0];
    return;
  }
  int64_t idx[kMaxDims] = {0};
  const int64_t inner = shape[ndim - 1], dsi = ds[ndim - 1], ssi = ss[ndim - 1];
  int64_t outer = 1;
  for (int d = 0; d < ndim - 1; ++d) outer *= shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    int64_t doff = 0, soff = 0;
    for (int d = 0; d < ndim - 1; ++d) {
      doff += idx[d] * ds[d];
      soff += idx[d] * ss[d];
    }
    T* dp = dst + doff;
    const T* sp = src + soff;
    if (dsi == 1 && ssi == 1) {
      std::memcpy(dp, sp, sizeof(T) * inner);
    } else {
      for (int64_t i = 0; i < inner; ++i) dp[i * dsi] = sp[i * ssi];
    }
    for (int d = ndim - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void cpu_copy_strided(void* dst, const int64_t* ds, const void* src, const int64_t* ss,
                      const int64_t* shape, int ndim, size_t elem) {
  for (int d = 0; d < ndim; ++d)
    if (shape[d] == 0) return;
  switch (elem) {
    case 1: copy_strided_t(static_cast<uint8_t*>(dst), ds, static_cast<const uint8_t*>(src), ss, shape, ndim); break;
    case 2: copy_strided_t(static_cast<uint16_t*>(dst), ds, static_cast<const uint16_t*>(src), ss, shape, ndim); break;
    case 4: copy_strided_t(static_cast<uint32_t*>(dst), ds, static_cast<const uint32_t*>(src), ss, shape, ndim); break;
    default: copy_strided_t(static_cast<uint64_t*>(dst), ds, static_cast<const uint64_t*>(src), ss, shape, ndim); break;
  }
}

void cpu_cast(void* dst, DType dt, const void* src, DType st, int64_t n) {
  if (dt == DType::f32 && st == DType::bf16) {
    auto* d = static_cast<float*>(dst);
    auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) d[i] = ec_bf16_to_f32(s[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) ec_store(dst, dt, i, ec_load(src, st, i));
}

void cpu_fill(void* dst, DType dtype, double value, int64_t n) {
  if (dtype == DType::f32) {
    float v = static_cast<float>(value);
    auto* d = static_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = v;
    return;
  }
  for (int64_t i = 0; i < n; ++i) ec_store(dst, dtype, i, value);
}

void cpu_rand_uniform(float* dst, int64_t n, uint64_t seed, uint64_t base, float lo, float hi) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    Philox4 r = philox4x32(seed, base + static_cast<uint64_t>(i));
    dst[i] = lo + (hi - lo) * philox_uniform(r.v[0]);
  }
}

void cpu_rand_normal(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    Philox4 r = philox4x32(seed, base + static_cast<uint64_t>(i));
    // Box-Muller on two 24-bit uniforms; u1 in (0, 1].
    float u1 = philox_uniform(r.v[0]) + (1.0f / 16777216.0f);
    float u2 = philox_uniform(r.v[1]);
    float z = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
    dst[i] = mean + std * z;
  }
}

}  // namespace vq::detail
