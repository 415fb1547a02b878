// CPU max/min with indices over the middle dim of [outer, R, inner], and non-zero
// counts (see reduce.h). Ties keep the first index; a NaN beats every number and the
// first NaN wins, like torch.max. Long rows are split into chunks whose results combine
// in order (max is exact, so this only changes speed, never the answer).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace vq::cpu {

namespace {

constexpr int64_t kRowChunk = 1 << 16;
constexpr int64_t kColTile = 256;
constexpr int64_t kParallelWork = 1 << 15;

// True when v should replace best scanning forward (strictly better, or the first NaN).
template <bool IsMax>
inline bool better(float v, float best) {
  const bool strictly = IsMax ? (v > best) : (v < best);
  return strictly || (v != v && best == best);
}

template <bool IsMax>
void max_rows(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R) {
  const int64_t nchunks = (R + kRowChunk - 1) / kRowChunk;
  const int64_t tasks = outer * nchunks;
  std::vector<float> pv(static_cast<size_t>(tasks));
  std::vector<int64_t> pi(static_cast<size_t>(tasks));
#pragma omp parallel for schedule(static) if (outer * R > kParallelWork && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / nchunks, c = t % nchunks;
    const int64_t lo = c * kRowChunk, hi = std::min(R, lo + kRowChunk);
    const float* row = x + o * R;
    float best = row[lo];
    int64_t bi = lo;
    for (int64_t r = lo + 1; r < hi; ++r) {
      if (better<IsMax>(row[r], best)) {
        best = row[r];
        bi = r;
      }
    }
    pv[t] = best;
    pi[t] = bi;
  }
  for (int64_t o = 0; o < outer; ++o) {
    float best = pv[o * nchunks];
    int64_t bi = pi[o * nchunks];
    for (int64_t c = 1; c < nchunks; ++c) {
      if (better<IsMax>(pv[o * nchunks + c], best)) {
        best = pv[o * nchunks + c];
        bi = pi[o * nchunks + c];
      }
    }
    if (values) values[o] = best;
    if (indices) indices[o] = bi;
  }
}

template <bool IsMax>
void max_cols(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R,
              int64_t inner) {
  const int64_t ntiles = (inner + kColTile - 1) / kColTile;
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelWork && outer * ntiles > 1)
  for (int64_t t = 0; t < outer * ntiles; ++t) {
    const int64_t o = t / ntiles, j0 = (t % ntiles) * kColTile;
    const int64_t w = std::min(inner, j0 + kColTile) - j0;
    float best[kColTile];
    int64_t bi[kColTile];
    const float* base = x + o * R * inner + j0;
    for (int64_t j = 0; j < w; ++j) {
      best[j] = base[j];
      bi[j] = 0;
    }
    for (int64_t r = 1; r < R; ++r) {
      const float* row = base + r * inner;
      for (int64_t j = 0; j < w; ++j) {
        const bool b = better<IsMax>(row[j], best[j]);
        best[j] = b ? row[j] : best[j];
        bi[j] = b ? r : bi[j];
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      if (values) values[o * inner + j0 + j] = best[j];
      if (indices) indices[o * inner + j0 + j] = bi[j];
    }
  }
}

template <typename T>
int64_t count_typed(const T* x, int64_t n) {
  int64_t count = 0;
#pragma omp parallel for reduction(+ : count) if (n > (1 << 18))
  for (int64_t i = 0; i < n; ++i) count += x[i] != T(0) ? 1 : 0;
  return count;
}

}  // namespace

void max_forward(float* values, int64_t* indices, const float* x, int64_t outer, int64_t R,
                 int64_t inner, bool is_max) {
  if (outer == 0 || inner == 0 || R == 0) return;
  if (inner == 1) {
    if (is_max) {
      max_rows<true>(values, indices, x, outer, R);
    } else {
      max_rows<false>(values, indices, x, outer, R);
    }
  } else if (is_max) {
    max_cols<true>(values, indices, x, outer, R, inner);
  } else {
    max_cols<false>(values, indices, x, outer, R, inner);
  }
}

int64_t count_nonzero_forward(const void* x, DType dtype, int64_t n) {
  switch (dtype) {
    case DType::f32: return count_typed(static_cast<const float*>(x), n);
    case DType::f64: return count_typed(static_cast<const double*>(x), n);
    case DType::i64: return count_typed(static_cast<const int64_t*>(x), n);
    case DType::i32: return count_typed(static_cast<const int32_t*>(x), n);
    case DType::u8:
    case DType::boolean: return count_typed(static_cast<const uint8_t*>(x), n);
    case DType::bf16:
    case DType::f16: {
      // Non-zero unless the bits are +0 or -0.
      const uint16_t* h = static_cast<const uint16_t*>(x);
      int64_t count = 0;
      for (int64_t i = 0; i < n; ++i) count += (h[i] & 0x7fffu) != 0 ? 1 : 0;
      return count;
    }
  }
  return 0;
}

}  // namespace vq::cpu
