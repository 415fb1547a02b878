// CPU stable line sort, topk and unique (see kernels/cpu/sort.h). Every order is the
// lexicographic order of (integer key, original position), which is exactly what a
// stable sort produces and what the CUDA radix sorts produce.
#include "kernels/cpu/sort.h"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/sort_keys.h"

namespace vq::cpu {

namespace {

template <typename K>
using KeyPos = std::pair<K, int64_t>;

// Keys of one line; `flip` complements them (descending order with stable ties).
template <typename T, typename K>
void make_keys(std::vector<KeyPos<K>>& kp, const T* x, int64_t L, bool flip) {
  kp.resize(static_cast<size_t>(L));
  for (int64_t j = 0; j < L; ++j) {
    K k;
    if constexpr (std::is_same<T, float>::value)
      k = sortkey::f32_key(x[j]);
    else
      k = sortkey::i64_key(x[j]);
    kp[j] = {flip ? static_cast<K>(~k) : k, j};
  }
}

template <typename T, typename K>
void sort_lines_t(T* values, int64_t* idx, const T* x, int64_t R, int64_t L, int64_t k,
                  bool descending) {
#pragma omp parallel for if (R > 1 && R * L > 4096)
  for (int64_t r = 0; r < R; ++r) {
    std::vector<KeyPos<K>> kp;
    const T* xr = x + r * L;
    make_keys(kp, xr, L, descending);
    if (k < L)
      std::partial_sort(kp.begin(), kp.begin() + k, kp.end());
    else
      std::sort(kp.begin(), kp.end());
    for (int64_t j = 0; j < k; ++j) {
      idx[r * k + j] = kp[j].second;
      values[r * k + j] = xr[kp[j].second];
    }
  }
}

template <typename T, typename K>
int64_t unique_t(T* values, int64_t* inverse, int64_t* counts, const T* x, int64_t n) {
  if (n == 0) return 0;
  std::vector<KeyPos<K>> kp;
  make_keys(kp, x, n, false);
  std::sort(kp.begin(), kp.end());
  int64_t u = -1;
  for (int64_t j = 0; j < n; ++j) {
    if (j == 0 || kp[j].first != kp[j - 1].first) {
      ++u;
      values[u] = x[kp[j].second];
      counts[u] = 0;
    }
    ++counts[u];
    inverse[kp[j].second] = u;
  }
  return u + 1;
}

}  // namespace

void sort_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                bool descending) {
  topk_lines(values, idx, x, dtype, R, L, L, descending);
}

void topk_lines(void* values, int64_t* idx, const void* x, DType dtype, int64_t R, int64_t L,
                int64_t k, bool largest) {
  if (dtype == DType::f32)
    sort_lines_t<float, uint32_t>(static_cast<float*>(values), idx, static_cast<const float*>(x), R,
                                  L, k, largest);
  else
    sort_lines_t<int64_t, uint64_t>(static_cast<int64_t*>(values), idx,
                                    static_cast<const int64_t*>(x), R, L, k, largest);
}

int64_t unique(void* values, int64_t* inverse, int64_t* counts, const void* x, DType dtype,
               int64_t n) {
  if (dtype == DType::f32)
    return unique_t<float, uint32_t>(static_cast<float*>(values), inverse, counts,
                                     static_cast<const float*>(x), n);
  return unique_t<int64_t, uint64_t>(static_cast<int64_t*>(values), inverse, counts,
                                     static_cast<const int64_t*>(x), n);
}

}  // namespace vq::cpu
