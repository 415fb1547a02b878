// Code statistics on CPU (see code_stats.h): thread-owned code ranges, no atomics, no
// per-thread K x D copies. Each task owns codes [k0, k1) of one head, scans that head's
// indices in row order and accumulates only its own codes.
#include "kernels/cpu/code_stats.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace vq::cpu {

void code_stats(float* counts, float* sums, const int64_t* idx, const float* x,
                const float* weights, const uint8_t* mask, const CsShape& s) {
  const int64_t H = s.H, N = s.N, K = s.K, D = s.D;
  if (H <= 0 || K <= 0) return;
  const int64_t T = omp_get_max_threads();
  // Ranges per head: with tiny D, extra threads that re-scan every index cost more than
  // they save (PERF.md 2.4), so split code ranges only when the rows are wide.
  int64_t ranges = 1;
  if (H < T && D >= 32 && N * D > (int64_t(1) << 16)) ranges = std::min<int64_t>((T + H - 1) / H, K);
  const int64_t tasks = H * ranges;
  const bool par = T > 1 && tasks > 1 && H * N * std::max<int64_t>(D, 1) > (int64_t(1) << 15);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t h = t / ranges, part = t % ranges;
    const int64_t k0 = K * part / ranges, k1 = K * (part + 1) / ranges;
    float* ch = counts + h * K;
    float* sh = sums + h * K * D;
    std::memset(ch + k0, 0, sizeof(float) * static_cast<size_t>(k1 - k0));
    std::memset(sh + k0 * D, 0, sizeof(float) * static_cast<size_t>((k1 - k0) * D));
    const int64_t* ih = idx + h * s.idx_head_stride;
    const float* xh = x + h * s.x_head_stride;
    const float* wh = weights ? weights + h * s.weight_head_stride : nullptr;
    const uint8_t* mh = mask ? mask + h * s.mask_head_stride : nullptr;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t k = ih[n];
      if (k < k0 || k >= k1) continue;
      if (mh && !mh[n]) continue;
      const float* xr = xh + n * D;
      float* dst = sh + k * D;
      if (wh) {
        const float w = wh[n];
        ch[k] += w;
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) dst[d] += w * xr[d];
      } else {
        ch[k] += 1.f;
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) dst[d] += xr[d];
      }
    }
  }
}

}  // namespace vq::cpu
