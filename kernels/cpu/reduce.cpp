// CPU sums and moments over the middle dim of [outer, R, inner] (see reduce.h and
// reduce_spec.h). Fixed-order double accumulation: the reduced dim is cut into chunks
// whose size depends only on the shape; each chunk folds into a double partial
// (inner == 1: 8 interleaved lanes combined pairwise; inner > 1: one running value per
// column), and partials combine in chunk order. Chunks are also the parallel tasks, so
// the result is the same for any thread count.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace vq::cpu {

namespace {

constexpr int64_t kRowChunk = 8192;    // elements of one row per partial (inner == 1)
constexpr int64_t kColChunk = 1024;    // rows of R per partial (inner > 1)
constexpr int64_t kColTile = 1024;     // columns per task (inner > 1)
constexpr int64_t kParallelWork = 1 << 15;

template <ReduceKind K>
inline double term(float x, double p, float c) {
  if constexpr (K == ReduceKind::sum) return x;
  if constexpr (K == ReduceKind::abs_sum || K == ReduceKind::abs_max) return std::fabs(x);
  if constexpr (K == ReduceKind::sq_sum) return double(x) * double(x);
  if constexpr (K == ReduceKind::pow_sum) return std::pow(std::fabs(double(x)), p);
  if constexpr (K == ReduceKind::sq_dev_sum) {
    const double d = double(x) - double(c);
    return d * d;
  }
  return 0.0;
}

template <ReduceKind K>
inline double combine(double a, double b) {
  if constexpr (K == ReduceKind::abs_max) return (b > a || b != b) ? b : a;
  return a + b;
}

inline float finalize(double acc, const ReduceSpec& s) {
  double v = acc * s.scale;
  if (s.root == 2.0) {
    v = std::sqrt(v);
  } else if (s.root != 1.0) {
    v = std::pow(v, 1.0 / s.root);
  }
  return static_cast<float>(v);
}

// Folds n contiguous elements with 8 interleaved lanes, combined pairwise.
template <ReduceKind K>
double fold_row(const float* x, int64_t n, double p, float c) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lane[k] = combine<K>(lane[k], term<K>(x[i + k], p, c));
  }
  double tail = 0.0;
  for (; i < n; ++i) tail = combine<K>(tail, term<K>(x[i], p, c));
  const double a = combine<K>(combine<K>(lane[0], lane[1]), combine<K>(lane[2], lane[3]));
  const double b = combine<K>(combine<K>(lane[4], lane[5]), combine<K>(lane[6], lane[7]));
  return combine<K>(combine<K>(a, b), tail);
}

template <ReduceKind K>
void reduce_rows(float* out, const float* x, int64_t outer, int64_t R, const ReduceSpec& s) {
  const int64_t nchunks = R > 0 ? (R + kRowChunk - 1) / kRowChunk : 1;
  const int64_t tasks = outer * nchunks;
  std::vector<double> part(static_cast<size_t>(tasks));
  const double p = s.p;
  const float* center = s.center;
#pragma omp parallel for schedule(static) if (outer * R > kParallelWork && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / nchunks, c = t % nchunks;
    const int64_t lo = c * kRowChunk, hi = std::min(R, lo + kRowChunk);
    const float cv = center ? center[o] : 0.f;
    part[t] = hi > lo ? fold_row<K>(x + o * R + lo, hi - lo, p, cv) : 0.0;
  }
  for (int64_t o = 0; o < outer; ++o) {
    double acc = part[o * nchunks];
    for (int64_t c = 1; c < nchunks; ++c) acc = combine<K>(acc, part[o * nchunks + c]);
    out[o] = finalize(acc, s);
  }
}

template <ReduceKind K>
void reduce_cols(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                 const ReduceSpec& s) {
  const int64_t nchunks = R > 0 ? (R + kColChunk - 1) / kColChunk : 1;
  const int64_t ntiles = (inner + kColTile - 1) / kColTile;
  const int64_t tasks = outer * nchunks * ntiles;
  // part[(o * nchunks + c) * inner + j]: the fold of chunk c of column (o, j).
  std::vector<double> part(static_cast<size_t>(outer * nchunks * inner), 0.0);
  const double p = s.p;
  const float* center = s.center;
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelWork && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t jt = t % ntiles, oc = t / ntiles;
    const int64_t o = oc / nchunks, c = oc % nchunks;
    const int64_t j0 = jt * kColTile, j1 = std::min(inner, j0 + kColTile);
    const int64_t r0 = c * kColChunk, r1 = std::min(R, r0 + kColChunk);
    double* acc = part.data() + oc * inner;
    const float* cen = center ? center + o * inner : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = x + (o * R + r) * inner;
      for (int64_t j = j0; j < j1; ++j)
        acc[j] = combine<K>(acc[j], term<K>(row[j], p, cen ? cen[j] : 0.f));
    }
  }
#pragma omp parallel for schedule(static) if (outer * inner * nchunks > kParallelWork)
  for (int64_t oj = 0; oj < outer * inner; ++oj) {
    const int64_t o = oj / inner, j = oj % inner;
    double acc = part[(o * nchunks) * inner + j];
    for (int64_t c = 1; c < nchunks; ++c) acc = combine<K>(acc, part[(o * nchunks + c) * inner + j]);
    out[oj] = finalize(acc, s);
  }
}

template <ReduceKind K>
void reduce_kind(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                 const ReduceSpec& s) {
  if (inner == 1) {
    reduce_rows<K>(out, x, outer, R, s);
  } else {
    reduce_cols<K>(out, x, outer, R, inner, s);
  }
}

}  // namespace

void reduce_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                    const ReduceSpec& spec) {
  if (outer == 0 || inner == 0) return;
  switch (spec.kind) {
    case ReduceKind::sum: return reduce_kind<ReduceKind::sum>(out, x, outer, R, inner, spec);
    case ReduceKind::abs_sum:
      return reduce_kind<ReduceKind::abs_sum>(out, x, outer, R, inner, spec);
    case ReduceKind::sq_sum: return reduce_kind<ReduceKind::sq_sum>(out, x, outer, R, inner, spec);
    case ReduceKind::pow_sum:
      return reduce_kind<ReduceKind::pow_sum>(out, x, outer, R, inner, spec);
    case ReduceKind::sq_dev_sum:
      return reduce_kind<ReduceKind::sq_dev_sum>(out, x, outer, R, inner, spec);
    case ReduceKind::abs_max:
      return reduce_kind<ReduceKind::abs_max>(out, x, outer, R, inner, spec);
  }
}

}  // namespace vq::cpu
