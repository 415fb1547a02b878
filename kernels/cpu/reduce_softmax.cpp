// CPU logsumexp, softmax and log_softmax over the middle dim of [outer, R, inner]
// (see reduce.h). Numerically stable: each column's max m is subtracted before exp
// (m is replaced by 0 when it is +-inf, which gives torch's answers for infinite
// inputs); exp sums accumulate in double, in order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace vq::cpu {

namespace {

constexpr int64_t kColTile = 256;
constexpr int64_t kParallelWork = 1 << 14;

inline float safe_max(float m) { return std::isinf(m) ? 0.f : m; }

// One row (inner == 1): returns the shift ms and the sum of exp(x - ms); with
// out != null also stores exp(x - ms) there (softmax's numerator).
inline double row_exp_sum(const float* x, int64_t R, float* ms_out, float* out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < R; ++r) m = std::max(m, x[r]);
  const float ms = safe_max(m);
  double s = 0.0;
  if (out) {
    for (int64_t r = 0; r < R; ++r) {
      const float e = std::exp(x[r] - ms);
      out[r] = e;
      s += e;
    }
  } else {
    for (int64_t r = 0; r < R; ++r) s += std::exp(x[r] - ms);
  }
  *ms_out = ms;
  return s;
}

// Column block (inner > 1): for columns [j0, j0 + w) of slab o, fills ms[w] and s[w].
inline void col_exp_sum(const float* base, int64_t R, int64_t inner, int64_t w, float* ms,
                        double* s) {
  for (int64_t j = 0; j < w; ++j) ms[j] = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < R; ++r) {
    const float* row = base + r * inner;
    for (int64_t j = 0; j < w; ++j) ms[j] = std::max(ms[j], row[j]);
  }
  for (int64_t j = 0; j < w; ++j) {
    ms[j] = safe_max(ms[j]);
    s[j] = 0.0;
  }
  for (int64_t r = 0; r < R; ++r) {
    const float* row = base + r * inner;
    for (int64_t j = 0; j < w; ++j) s[j] += std::exp(row[j] - ms[j]);
  }
}

}  // namespace

void logsumexp_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner) {
  if (outer == 0 || inner == 0) return;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * R > kParallelWork)
    for (int64_t o = 0; o < outer; ++o) {
      float ms;
      const double s = row_exp_sum(x + o * R, R, &ms, nullptr);
      out[o] = static_cast<float>(double(ms) + std::log(s));
    }
    return;
  }
  const int64_t ntiles = (inner + kColTile - 1) / kColTile;
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelWork)
  for (int64_t t = 0; t < outer * ntiles; ++t) {
    const int64_t o = t / ntiles, j0 = (t % ntiles) * kColTile;
    const int64_t w = std::min(inner, j0 + kColTile) - j0;
    float ms[kColTile];
    double s[kColTile];
    col_exp_sum(x + o * R * inner + j0, R, inner, w, ms, s);
    for (int64_t j = 0; j < w; ++j)
      out[o * inner + j0 + j] = static_cast<float>(double(ms[j]) + std::log(s[j]));
  }
}

void softmax_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                     bool log) {
  if (outer == 0 || inner == 0 || R == 0) return;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * R > kParallelWork)
    for (int64_t o = 0; o < outer; ++o) {
      const float* xr = x + o * R;
      float* yr = out + o * R;
      float ms;
      if (log) {
        const double s = row_exp_sum(xr, R, &ms, nullptr);
        const float shift = static_cast<float>(double(ms) + std::log(s));
        for (int64_t r = 0; r < R; ++r) yr[r] = xr[r] - shift;
      } else {
        const double s = row_exp_sum(xr, R, &ms, yr);
        const float inv = static_cast<float>(1.0 / s);
        for (int64_t r = 0; r < R; ++r) yr[r] *= inv;
      }
    }
    return;
  }
  const int64_t ntiles = (inner + kColTile - 1) / kColTile;
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelWork)
  for (int64_t t = 0; t < outer * ntiles; ++t) {
    const int64_t o = t / ntiles, j0 = (t % ntiles) * kColTile;
    const int64_t w = std::min(inner, j0 + kColTile) - j0;
    float ms[kColTile];
    double s[kColTile];
    const float* base = x + o * R * inner + j0;
    float* obase = out + o * R * inner + j0;
    col_exp_sum(base, R, inner, w, ms, s);
    float a[kColTile];  // log: shift = ms + log s; softmax: 1 / s
    for (int64_t j = 0; j < w; ++j)
      a[j] = log ? static_cast<float>(double(ms[j]) + std::log(s[j]))
                 : static_cast<float>(1.0 / s[j]);
    for (int64_t r = 0; r < R; ++r) {
      const float* row = base + r * inner;
      float* orow = obase + r * inner;
      if (log) {
        for (int64_t j = 0; j < w; ++j) orow[j] = row[j] - a[j];
      } else {
        for (int64_t j = 0; j < w; ++j) orow[j] = std::exp(row[j] - ms[j]) * a[j];
      }
    }
  }
}

}  // namespace vq::cpu
