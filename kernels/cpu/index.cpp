// CPU gather, index_select, masked_fill, one_hot, cumsum and the index range scan
// (see kernels/cpu/index.h). Loops are OpenMP-parallel over independent output rows.
#include "kernels/cpu/index.h"

#include <algorithm>
#include <cstring>

namespace vq::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which loops stay serial

template <typename E>
void gather_t(E* out, const E* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t J, int64_t I) {
  const int64_t rows = O * J;
#pragma omp parallel for if (rows * I > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / J;
    const int64_t* ip = idx + r * I;
    const E* xb = x + o * Kx * I;
    E* op = out + r * I;
    for (int64_t i = 0; i < I; ++i) op[i] = xb[ip[i] * I + i];
  }
}

template <typename E>
void masked_fill_t(E* out, const E* x, const uint8_t* mask, E value, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = mask[i] ? value : x[i];
}

template <typename T>
void one_hot_t(T* out, const int64_t* idx, int64_t n, int64_t C) {
#pragma omp parallel for if (n * C > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    T* row = out + j * C;
    for (int64_t c = 0; c < C; ++c) row[c] = T(0);
    row[idx[j]] = T(1);
  }
}

// Running sums of a [L, I] slab, I processed in chunks so the accumulator stays in L1.
template <typename T, typename Acc>
void cumsum_t(T* out, const T* x, int64_t O, int64_t L, int64_t I) {
  constexpr int64_t kChunk = 256;
  const int64_t nchunk = (I + kChunk - 1) / kChunk, tasks = O * nchunk;
#pragma omp parallel for if (O * L * I > kParallelMin && tasks > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t o = task / nchunk, c0 = (task % nchunk) * kChunk;
    const int64_t w = std::min(kChunk, I - c0);
    Acc acc[kChunk];
    for (int64_t i = 0; i < w; ++i) acc[i] = Acc(0);
    for (int64_t l = 0; l < L; ++l) {
      const T* xr = x + (o * L + l) * I + c0;
      T* orow = out + (o * L + l) * I + c0;
      for (int64_t i = 0; i < w; ++i) {
        acc[i] += static_cast<Acc>(xr[i]);
        orow[i] = static_cast<T>(acc[i]);
      }
    }
  }
}

}  // namespace

void index_minmax(const int64_t* idx, int64_t n, int64_t* mn, int64_t* mx) {
  int64_t lo = idx[0], hi = idx[0];
#pragma omp parallel for reduction(min : lo) reduction(max : hi) if (n > (int64_t(1) << 20))
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, idx[i]);
    hi = std::max(hi, idx[i]);
  }
  *mn = lo;
  *mx = hi;
}

void gather_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx, int64_t J,
                    int64_t I, size_t elem) {
  switch (elem) {
    case 1:
      gather_t(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(x), idx, O, Kx, J, I);
      break;
    case 2:
      gather_t(static_cast<uint16_t*>(out), static_cast<const uint16_t*>(x), idx, O, Kx, J, I);
      break;
    case 4:
      gather_t(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(x), idx, O, Kx, J, I);
      break;
    default:
      gather_t(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(x), idx, O, Kx, J, I);
      break;
  }
}

void index_select_forward(void* out, const void* x, const int64_t* idx, int64_t O, int64_t Kx,
                          int64_t N, int64_t I, size_t elem) {
  const int64_t rows = O * N;
  const size_t row_bytes = static_cast<size_t>(I) * elem;
  auto* o8 = static_cast<unsigned char*>(out);
  const auto* x8 = static_cast<const unsigned char*>(x);
#pragma omp parallel for if (rows * I > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / N, j = r % N;
    std::memcpy(o8 + r * row_bytes, x8 + (o * Kx + idx[j]) * row_bytes, row_bytes);
  }
}

void bincount(int64_t* counts, const int64_t* idx, int64_t n, int64_t M) {
  std::fill(counts, counts + M, int64_t(0));
  for (int64_t j = 0; j < n; ++j) ++counts[idx[j]];
}

void masked_fill(void* out, const void* x, const uint8_t* mask, const void* value, int64_t n,
                 size_t elem) {
  switch (elem) {
    case 1: {
      uint8_t v;
      std::memcpy(&v, value, 1);
      masked_fill_t(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(x), mask, v, n);
      break;
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, value, 2);
      masked_fill_t(static_cast<uint16_t*>(out), static_cast<const uint16_t*>(x), mask, v, n);
      break;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, value, 4);
      masked_fill_t(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(x), mask, v, n);
      break;
    }
    default: {
      uint64_t v;
      std::memcpy(&v, value, 8);
      masked_fill_t(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(x), mask, v, n);
      break;
    }
  }
}

void one_hot(int64_t* out, const int64_t* idx, int64_t n, int64_t C) { one_hot_t(out, idx, n, C); }
void one_hot(float* out, const int64_t* idx, int64_t n, int64_t C) { one_hot_t(out, idx, n, C); }

void cumsum(float* out, const float* x, int64_t O, int64_t L, int64_t I) {
  cumsum_t<float, double>(out, x, O, L, I);
}
void cumsum(int64_t* out, const int64_t* x, int64_t O, int64_t L, int64_t I) {
  cumsum_t<int64_t, int64_t>(out, x, O, L, I);
}

}  // namespace vq::cpu
