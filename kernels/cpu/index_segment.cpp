// CPU deterministic keyed sums: segment_sum (index_add, bincount with weights) and
// scatter_add (see kernels/cpu/index.h). The hot path is the EMA codebook statistics
// (index_add_ of [N, D] rows into a [K, D] table). Each thread owns a contiguous range
// of keys (FAISS style, balanced by row count) and writes only those table rows, so
// there are no atomics and no races. Every element is accumulated in double as
// ((0 + r1) + r2) + ... over its rows in source order, then added once:
// dst = T(dst + alpha * sum). Two schedules compute exactly these bits:
//   dense  - scan the rows in source order into a double table [keys, I] (sequential
//            reads; best when the table is small against the source);
//   sorted - a stable counting sort groups the rows by key, then each key's rows are
//            summed into an L1-resident accumulator (best when keys >> rows).
// So the result does not depend on the schedule or on the thread count.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/storage.h"
#include "kernels/cpu/index.h"

namespace vq::cpu {

namespace {

constexpr int64_t kChunk = 256;  // sorted path: accumulator width (doubles)
// One thread below this much work, or for narrow rows: PERF.md §2.4 measured two threads
// that each scan every label slower than one when D is tiny.
constexpr int64_t kParallelWork = 1 << 18;
constexpr int64_t kParallelMinRow = 32;
constexpr int64_t kDenseMaxBytes = int64_t(64) << 20;

const Device kHost{DeviceType::CPU, 0};

// Scratch from the CPU caching allocator (no page faults in a training loop).
class Scratch {
 public:
  explicit Scratch(size_t nbytes) : n_(nbytes ? nbytes : 1), p_(device_alloc(n_, kHost)) {}
  ~Scratch() { device_free(p_, n_, kHost); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  size_t n_;
  void* p_;
};

// ---- acc[i] += s[i]: element-wise, so every variant gives the same bits ----
__attribute__((target("avx2"))) void add_row_avx2(double* a, const float* s, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_loadu_ps(s + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
    _mm256_storeu_pd(a + i, _mm256_add_pd(_mm256_loadu_pd(a + i), lo));
    _mm256_storeu_pd(a + i + 4, _mm256_add_pd(_mm256_loadu_pd(a + i + 4), hi));
  }
  for (; i < n; ++i) a[i] += static_cast<double>(s[i]);
}

void add_row_sse2(double* a, const float* s, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 f = _mm_loadu_ps(s + i);
    const __m128d lo = _mm_cvtps_pd(f);
    const __m128d hi = _mm_cvtps_pd(_mm_movehl_ps(f, f));
    _mm_storeu_pd(a + i, _mm_add_pd(_mm_loadu_pd(a + i), lo));
    _mm_storeu_pd(a + i + 2, _mm_add_pd(_mm_loadu_pd(a + i + 2), hi));
  }
  for (; i < n; ++i) a[i] += static_cast<double>(s[i]);
}

using AddRowF32 = void (*)(double*, const float*, int64_t);
AddRowF32 pick_add_row() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? add_row_avx2 : add_row_sse2;
}

inline void add_row(double* a, const float* s, int64_t n) {
  static const AddRowF32 fn = pick_add_row();
  fn(a, s, n);
}
inline void add_row(int64_t* a, const int64_t* s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += s[i];
}

// d = T(d + alpha * acc), elementwise (baseline ISA: no FMA contraction).
inline void finish_row(float* d, const double* acc, int64_t n, double alpha) {
  for (int64_t i = 0; i < n; ++i)
    d[i] = static_cast<float>(static_cast<double>(d[i]) + alpha * acc[i]);
}
inline void finish_row(int64_t* d, const int64_t* acc, int64_t n, int64_t alpha) {
  for (int64_t i = 0; i < n; ++i) d[i] += alpha * acc[i];
}
// Single-row key: acc would be exactly the row, so the same formula applies directly.
inline void finish_single(float* d, const float* s, int64_t n, double alpha) {
  for (int64_t i = 0; i < n; ++i)
    d[i] = static_cast<float>(static_cast<double>(d[i]) + alpha * static_cast<double>(s[i]));
}
inline void finish_single(int64_t* d, const int64_t* s, int64_t n, int64_t alpha) {
  for (int64_t i = 0; i < n; ++i) d[i] += alpha * s[i];
}

template <typename T>
struct AccOf {
  using type = double;
  using alpha = double;
};
template <>
struct AccOf<int64_t> {
  using type = int64_t;
  using alpha = int64_t;
};

template <typename T>
struct Problem {
  using Acc = typename AccOf<T>::type;
  using Alpha = typename AccOf<T>::alpha;
  T* dst;
  const T* src;
  const int64_t* keys;
  const int64_t* seg;    // seg[k] .. seg[k + 1]: rows of key k in sorted order
  const int64_t* order;  // sorted path: row ids grouped by key (null for dense)
  Acc* table;            // dense path: [M, I] accumulators
  int64_t N, M, O, I;
  Alpha alpha;
};

// Sorted schedule for keys [k0, k1).
template <typename T>
void run_sorted(const Problem<T>& p, int64_t k0, int64_t k1) {
  using Acc = typename Problem<T>::Acc;
  Acc acc[kChunk];
  for (int64_t o = 0; o < p.O; ++o) {
    const T* sbase = p.src + o * p.N * p.I;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t j0 = p.seg[k], j1 = p.seg[k + 1];
      if (j1 == j0) continue;
      T* drow = p.dst + (o * p.M + k) * p.I;
      if (j1 - j0 == 1) {
        finish_single(drow, sbase + p.order[j0] * p.I, p.I, p.alpha);
        continue;
      }
      for (int64_t c0 = 0; c0 < p.I; c0 += kChunk) {
        const int64_t w = std::min(kChunk, p.I - c0);
        std::fill(acc, acc + w, Acc(0));
        for (int64_t j = j0; j < j1; ++j) add_row(acc, sbase + p.order[j] * p.I + c0, w);
        finish_row(drow + c0, acc, w, p.alpha);
      }
    }
  }
}

// Dense schedule for keys [k0, k1): one sequential pass over the rows.
template <typename T>
void run_dense(const Problem<T>& p, int64_t k0, int64_t k1) {
  using Acc = typename Problem<T>::Acc;
  const int64_t I = p.I;
  for (int64_t o = 0; o < p.O; ++o) {
    const T* sbase = p.src + o * p.N * I;
    for (int64_t k = k0; k < k1; ++k)
      if (p.seg[k + 1] > p.seg[k]) std::fill(p.table + k * I, p.table + (k + 1) * I, Acc(0));
    for (int64_t j = 0; j < p.N; ++j) {
      const int64_t k = p.keys[j];
      if (k >= k0 && k < k1) add_row(p.table + k * I, sbase + j * I, I);
    }
    for (int64_t k = k0; k < k1; ++k)
      if (p.seg[k + 1] > p.seg[k])
        finish_row(p.dst + (o * p.M + k) * I, p.table + k * I, I, p.alpha);
  }
}

template <typename T>
void segment_sum_t(T* dst, const T* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                   int64_t I, double alpha, SegmentPath path) {
  using Acc = typename Problem<T>::Acc;
  using Alpha = typename Problem<T>::Alpha;
  if (N == 0 || M == 0 || O == 0 || I == 0) return;
  if (path == SegmentPath::automatic) {
    const bool dense = M <= 4 * N && M * I * int64_t(sizeof(Acc)) <= kDenseMaxBytes;
    path = dense ? SegmentPath::dense : SegmentPath::sorted;
  }
  // Row counts per key (seg = their exclusive prefix sums), used by both schedules.
  Scratch seg_s(static_cast<size_t>(M + 1) * sizeof(int64_t));
  int64_t* seg = seg_s.as<int64_t>();
  std::memset(seg, 0, static_cast<size_t>(M + 1) * sizeof(int64_t));
  for (int64_t j = 0; j < N; ++j) ++seg[keys[j] + 1];
  for (int64_t k = 0; k < M; ++k) seg[k + 1] += seg[k];

  Problem<T> p{dst, src, keys, seg, nullptr, nullptr, N, M, O, I, static_cast<Alpha>(alpha)};
  const bool sorted = path == SegmentPath::sorted;
  Scratch work(sorted ? static_cast<size_t>(N) * sizeof(int64_t)
                      : static_cast<size_t>(M * I) * sizeof(Acc));
  if (sorted) {
    // Stable counting sort; the cursor array starts as a copy of seg.
    Scratch cur_s(static_cast<size_t>(M) * sizeof(int64_t));
    int64_t* cur = cur_s.as<int64_t>();
    int64_t* order = work.as<int64_t>();
    std::memcpy(cur, seg, static_cast<size_t>(M) * sizeof(int64_t));
    for (int64_t j = 0; j < N; ++j) order[cur[keys[j]]++] = j;
    p.order = order;
  } else {
    p.table = work.as<Acc>();
  }

  const bool parallel =
      N * O * I >= kParallelWork && I >= kParallelMinRow && omp_get_max_threads() > 1;
#pragma omp parallel if (parallel)
  {
    // Thread t owns the keys whose rows start in its share of the N rows.
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t r0 = N * t / nt, r1 = N * (t + 1) / nt;
    const int64_t k0 = t == 0 ? 0 : std::lower_bound(seg, seg + M, r0) - seg;
    const int64_t k1 = (t == nt - 1) ? M : std::lower_bound(seg, seg + M, r1) - seg;
    if (sorted)
      run_sorted(p, k0, k1);
    else
      run_dense(p, k0, k1);
  }
}

template <typename T>
void scatter_add_t(T* out, const int64_t* idx, const T* src, int64_t O, int64_t K, int64_t J,
                   int64_t I) {
  const int64_t n = O * J * I;
  if (n == 0) return;
  Scratch keys_s(static_cast<size_t>(n) * sizeof(int64_t));
  int64_t* keys = keys_s.as<int64_t>();
#pragma omp parallel for if (n > (int64_t(1) << 20))
  for (int64_t p = 0; p < n; ++p) {
    const int64_t o = p / (J * I), i = p % I;
    keys[p] = (o * K + idx[p]) * I + i;
  }
  segment_sum_t(out, src, keys, n, O * K * I, 1, 1, 1.0, SegmentPath::automatic);
}

}  // namespace

void segment_sum(float* dst, const float* src, const int64_t* keys, int64_t N, int64_t M, int64_t O,
                 int64_t I, double alpha, SegmentPath path) {
  segment_sum_t(dst, src, keys, N, M, O, I, alpha, path);
}
void segment_sum(int64_t* dst, const int64_t* src, const int64_t* keys, int64_t N, int64_t M,
                 int64_t O, int64_t I, double alpha, SegmentPath path) {
  segment_sum_t(dst, src, keys, N, M, O, I, alpha, path);
}

void scatter_add(float* out, const int64_t* idx, const float* src, int64_t O, int64_t K, int64_t J,
                 int64_t I) {
  scatter_add_t(out, idx, src, O, K, J, I);
}
void scatter_add(int64_t* out, const int64_t* idx, const int64_t* src, int64_t O, int64_t K,
                 int64_t J, int64_t I) {
  scatter_add_t(out, idx, src, O, K, J, I);
}

}  // namespace vq::cpu
