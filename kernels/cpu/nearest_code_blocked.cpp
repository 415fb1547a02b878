// The FAISS-style blocked CPU path of nearest-code search and the kernels that share
// its structure: top-1 search, top-k search and the materialized similarity matrix.
// Each OpenMP task takes bs rows of one head, runs a single-threaded cblas_sgemm into a
// thread-local scratch of bs x K floats (bs * K * 4 B <= 1 MiB, so it stays in L2) and
// reduces it while it is hot. The N x K matrix exists only in code_similarity, where it
// is the requested output.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/nearest_code.h"
#include "kernels/cpu/nearest_code_simd.h"

namespace vq::cpu {
namespace {

constexpr int64_t kScratchBytes = int64_t(1) << 20;  // per-thread bs x K budget
constexpr int64_t kMaxBlockRows = 256;
constexpr int64_t kMinBlockRows = 8;

// Sets OpenBLAS to one thread for the lifetime of the guard when `on` (our OpenMP
// threads each call sgemm), and restores the previous count afterwards.
class BlasSingleThread {
 public:
  explicit BlasSingleThread(bool on) {
    if (on) {
      prev_ = openblas_get_num_threads();
      if (prev_ != 1) openblas_set_num_threads(1);
    }
  }
  ~BlasSingleThread() {
    if (prev_ > 1) openblas_set_num_threads(prev_);
  }
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  int prev_ = 0;
};

// Rows per block: the scratch budget, shrunk so that every thread gets a few tasks.
int64_t choose_block_rows(const NcShape& s) {
  int64_t bs = std::clamp<int64_t>(kScratchBytes / (s.K * int64_t(sizeof(float))),
                                   kMinBlockRows, kMaxBlockRows);
  const int64_t want_tasks = 4 * int64_t(omp_get_max_threads());
  const int64_t blocks_per_head = (want_tasks + s.H - 1) / s.H;
  const int64_t fair = (s.N + blocks_per_head - 1) / blocks_per_head;
  bs = std::min(bs, std::max(kMinBlockRows, fair));
  return std::max<int64_t>(1, std::min(bs, s.N));
}

float* thread_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// Calls f(h, r0, rows, S) for every block, where S = alpha * x_block codes_h^T [rows, K]
// lives in `dst(h, r0)` when given (ld K) or in a thread-local scratch otherwise.
template <typename Dst, typename F>
void for_each_block(const float* x, const float* codes, const NcShape& s, float alpha,
                    Dst dst, F f) {
  const int64_t bs = choose_block_rows(s);
  const int64_t blocks = (s.N + bs - 1) / bs;
  const int64_t tasks = s.H * blocks;
  const bool par = tasks > 1 && omp_get_max_threads() > 1 &&
                   s.H * s.N * s.K * s.D > (int64_t(1) << 20);
  BlasSingleThread guard(par);
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t h = t / blocks, r0 = (t % blocks) * bs;
    const int64_t rows = std::min(bs, s.N - r0);
    const float* xb = x + h * s.x_head_stride + r0 * s.D;
    const float* ch = codes + h * s.codes_head_stride;
    float* S = dst(h, r0);
    if (!S) S = thread_scratch(bs * s.K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(s.K), static_cast<int>(s.D), alpha, xb, static_cast<int>(s.D),
                ch, static_cast<int>(s.D), 0.f, S, static_cast<int>(s.K));
    f(h, r0, rows, xb, S);
  }
}

// Per-head bias of the running argmin: |c|^2 (Euclidean) or 0 (inner product).
std::vector<float> code_bias(const float* codes, const NcShape& s, bool ip) {
  const int64_t heads = s.codes_head_stride == 0 ? 1 : s.H;
  std::vector<float> bias(static_cast<size_t>(heads * s.K), 0.f);
  if (!ip)
    for (int64_t h = 0; h < heads; ++h)
      row_sq_norms(bias.data() + h * s.K, codes + h * s.codes_head_stride, s.K, s.D);
  return bias;
}

inline float sq_norm(const float* r, int64_t D) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t d = 0; d < D; ++d) acc += r[d] * r[d];
  return acc;
}

}  // namespace

void nearest_code_blocked(int64_t* idx, float* score, const float* x, const float* codes,
                          const NcShape& s, bool ip, SimdLevel simd) {
  const std::vector<float> bias = code_bias(codes, s, ip);
  const int64_t bias_stride = s.codes_head_stride == 0 ? 0 : s.K;
  for_each_block(
      x, codes, s, ip ? -1.f : -2.f, [](int64_t, int64_t) -> float* { return nullptr; },
      [&](int64_t h, int64_t r0, int64_t rows, const float* xb, float* S) {
        int64_t* ib = idx + h * s.N + r0;
        float* sb = score + h * s.N + r0;
        detail::argmin_rows(ib, sb, S, s.K, bias.data() + h * bias_stride, rows, s.K, simd);
        for (int64_t r = 0; r < rows; ++r)
          sb[r] = ip ? -sb[r] : std::max(sq_norm(xb + r * s.D, s.D) + sb[r], 0.f);
      });
}

void nearest_code_topk(int64_t* idx, float* score, const float* x, const float* codes,
                       const NcShape& s, int64_t k, bool ip) {
  if (s.H <= 0 || s.N <= 0) return;
  if (s.D == 0) {  // every code is at distance 0: the first k codes
    nearest_code_topk_naive(idx, score, x, codes, s, k, ip);
    return;
  }
  const std::vector<float> bias = code_bias(codes, s, ip);
  const int64_t bias_stride = s.codes_head_stride == 0 ? 0 : s.K;
  for_each_block(
      x, codes, s, ip ? -1.f : -2.f, [](int64_t, int64_t) -> float* { return nullptr; },
      [&](int64_t h, int64_t r0, int64_t rows, const float* xb, float* S) {
        const float* bh = bias.data() + h * bias_stride;
        for (int64_t r = 0; r < rows; ++r) {
          const float* row = S + r * s.K;
          float* vals = score + (h * s.N + r0 + r) * k;
          int64_t* ids = idx + (h * s.N + r0 + r) * k;
          int64_t cnt = 0;
          for (int64_t j = 0; j < s.K; ++j) {
            const float v = bh[j] + row[j];
            if (cnt == k && !(v < vals[k - 1])) continue;
            // insert after every value <= v (equal values stay in index order)
            int64_t pos = cnt < k ? cnt : k - 1;
            while (pos > 0 && vals[pos - 1] > v) {
              vals[pos] = vals[pos - 1];
              ids[pos] = ids[pos - 1];
              --pos;
            }
            vals[pos] = v;
            ids[pos] = j;
            if (cnt < k) ++cnt;
          }
          const float xn = ip ? 0.f : sq_norm(xb + r * s.D, s.D);
          for (int64_t j = 0; j < k; ++j) vals[j] = ip ? -vals[j] : std::max(xn + vals[j], 0.f);
        }
      });
}

void code_similarity(float* out, const float* x, const float* codes, const NcShape& s,
                     bool ip) {
  if (s.H <= 0 || s.N <= 0) return;
  if (s.D == 0) {  // x.c = 0; distance sqrt(max(0, 1e-8))
    const float v = ip ? 0.f : -std::sqrt(1e-8f);
    std::fill(out, out + s.H * s.N * s.K, v);
    return;
  }
  const std::vector<float> bias = code_bias(codes, s, /*ip=*/false);
  const int64_t bias_stride = s.codes_head_stride == 0 ? 0 : s.K;
  // Epilogue while the block is hot: out = -sqrt(max((|x|^2 + |c|^2) + (-2 x.c), 1e-8)).
  for_each_block(
      x, codes, s, ip ? 1.f : -2.f,
      [&](int64_t h, int64_t r0) -> float* { return out + (h * s.N + r0) * s.K; },
      [&](int64_t h, int64_t, int64_t rows, const float* xb, float* S) {
        if (ip) return;
        const float* cn = bias.data() + h * bias_stride;
        for (int64_t r = 0; r < rows; ++r) {
          const float xn = sq_norm(xb + r * s.D, s.D);
          float* o = S + r * s.K;
#pragma omp simd
          for (int64_t j = 0; j < s.K; ++j)
            o[j] = -std::sqrt(std::max((xn + cn[j]) + o[j], 1e-8f));
        }
      });
}

}  // namespace vq::cpu
