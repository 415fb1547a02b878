// CPU randperm and multinomial from Philox counters (see kernels/cpu/sort.h). The CUDA
// twins in kernels/cuda/sort_random.cu evaluate the same formulas from
// kernels/cpu/sort_keys.h, so a seed gives the same permutation and samples on both.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/sort.h"
#include "kernels/cpu/sort_keys.h"

namespace vq::cpu {

void randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t base) {
  std::vector<std::pair<uint64_t, int64_t>> kp(static_cast<size_t>(n));
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i)
    kp[i] = {sortkey::randperm_key(seed, base, static_cast<uint64_t>(i)), i};
  std::sort(kp.begin(), kp.end());
  for (int64_t i = 0; i < n; ++i) out[i] = kp[i].second;
}

ProbStats prob_stats(const float* p, int64_t R, int64_t K) {
  ProbStats st;
  st.min_nonzero = K;
  for (int64_t r = 0; r < R; ++r) {
    const float* pr = p + r * K;
    double sum = 0;
    int64_t nnz = 0;
    for (int64_t k = 0; k < K; ++k) {
      const float v = pr[k];
      if (!(v >= 0.f) || std::isinf(v))
        ++st.bad;
      else if (v > 0.f)
        ++nnz;
      sum += v;
    }
    if (!(sum > 0)) ++st.zero_rows;
    st.min_nonzero = std::min(st.min_nonzero, nnz);
  }
  return st;
}

void multinomial(int64_t* out, const float* p, int64_t R, int64_t K, int64_t S, bool replacement,
                 uint64_t seed, uint64_t base) {
#pragma omp parallel for if (R > 1 && R * K > 16384)
  for (int64_t r = 0; r < R; ++r) {
    const float* pr = p + r * K;
    int64_t* orow = out + r * S;
    if (replacement) {
      std::vector<double> cdf(static_cast<size_t>(K));
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        acc += static_cast<double>(pr[k]);
        cdf[k] = acc;
      }
      for (int64_t s = 0; s < S; ++s) {
        const double u = sortkey::uniform53(seed, base, static_cast<uint64_t>(r * S + s));
        orow[s] = sortkey::upper_bound_cdf(cdf.data(), K, u * acc);
      }
    } else {
      std::vector<std::pair<uint64_t, int64_t>> kp(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) {
        const double u = sortkey::uniform53_open0(seed, base, static_cast<uint64_t>(r * K + k));
        const double t = pr[k] > 0.f ? -std::log(u) / static_cast<double>(pr[k])
                                     : std::numeric_limits<double>::infinity();
        kp[k] = {sortkey::f64_key(t), k};
      }
      std::partial_sort(kp.begin(), kp.begin() + S, kp.end());
      for (int64_t s = 0; s < S; ++s) orow[s] = kp[s].second;
    }
  }
}

}  // namespace vq::cpu
