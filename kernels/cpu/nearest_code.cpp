// CPU nearest-code search: SIMD level detection, the path heuristic, the scalar
// double-precision oracle (top-1 and top-k), the small-D register-tiled driver and the
// top-level dispatcher. The blocked sgemm path lives in nearest_code_blocked.cpp.
#include "kernels/cpu/nearest_code.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/nearest_code_simd.h"

namespace vq::cpu {

// Defined in nearest_code_blocked.cpp.
void nearest_code_blocked(int64_t* idx, float* score, const float* x, const float* codes,
                          const NcShape& s, bool inner_product, SimdLevel simd);

namespace {

SimdLevel detect_simd() {
  SimdLevel best = SimdLevel::scalar;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SimdLevel::avx2;
  if (__builtin_cpu_supports("avx512f")) best = SimdLevel::avx512;
  if (const char* e = std::getenv("VQ_CPU_SIMD")) {
    SimdLevel want = best;
    if (!std::strcmp(e, "scalar")) want = SimdLevel::scalar;
    if (!std::strcmp(e, "avx2")) want = SimdLevel::avx2;
    if (!std::strcmp(e, "avx512")) want = SimdLevel::avx512;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

// Grow-only buffer of the calling thread: reused across calls, so the steady state
// makes no allocation and takes no page faults (PERF.md 2.7).
float* caller_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

constexpr int64_t kRowsPerTask = 256;          // small-D rows per OpenMP task
constexpr int64_t kPanelChunkBytes = 256 << 10;  // codebook panels kept hot per pass

// Transposes one head's codebook into panels (see nearest_code_simd.h).
void build_panels(float* W, float* B, const float* c, int64_t K, int64_t D, bool ip) {
  using detail::kPanel;
  const int64_t P = (K + kPanel - 1) / kPanel;
  const float alpha = ip ? -1.f : -2.f;
  for (int64_t p = 0; p < P; ++p) {
    float* w = W + p * D * kPanel;
    for (int j = 0; j < kPanel; ++j) {
      const int64_t k = p * kPanel + j;
      if (k < K) {
        const float* ck = c + k * D;
        float n2 = 0.f;
        for (int64_t d = 0; d < D; ++d) {
          w[d * kPanel + j] = alpha * ck[d];
          n2 += ck[d] * ck[d];
        }
        B[p * kPanel + j] = ip ? 0.f : n2;
      } else {
        for (int64_t d = 0; d < D; ++d) w[d * kPanel + j] = 0.f;
        B[p * kPanel + j] = std::numeric_limits<float>::infinity();
      }
    }
  }
}

void nearest_code_small_d(int64_t* idx, float* score, const float* x, const float* codes,
                          const NcShape& s, bool ip, SimdLevel lvl) {
  using detail::kPanel;
  const int64_t H = s.H, N = s.N, K = s.K, D = s.D;
  const int64_t P = (K + kPanel - 1) / kPanel;
  const int64_t panel_floats = P * kPanel * (D + 1);
  const bool shared_codes = s.codes_head_stride == 0;
  const int64_t heads_built = shared_codes ? 1 : H;
  float* panels = caller_scratch(heads_built * panel_floats);
  for (int64_t h = 0; h < heads_built; ++h) {
    float* W = panels + h * panel_floats;
    build_panels(W, W + P * kPanel * D, codes + h * s.codes_head_stride, K, D, ip);
  }
  const int64_t panels_per_chunk =
      std::max<int64_t>(1, kPanelChunkBytes / (kPanel * (D + 1) * int64_t(sizeof(float))));
  const int64_t blocks = (N + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t tasks = H * blocks;
  const int lanes = detail::small_d_lanes(lvl);
  const bool par = tasks > 1 && N * K * std::max<int64_t>(D, 1) * H > (int64_t(1) << 18);
#pragma omp parallel if (par)
  {
    std::vector<float> minv(kRowsPerTask * kPanel);
    std::vector<int32_t> mini(kRowsPerTask * kPanel);
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t h = t / blocks, r0 = (t % blocks) * kRowsPerTask;
      const int64_t rows = std::min(kRowsPerTask, N - r0);
      const float* xh = x + h * s.x_head_stride + r0 * D;
      const float* W = panels + (shared_codes ? 0 : h) * panel_floats;
      const float* B = W + P * kPanel * D;
      std::fill(minv.begin(), minv.end(), std::numeric_limits<float>::infinity());
      std::fill(mini.begin(), mini.end(), 0);
      for (int64_t p0 = 0; p0 < P; p0 += panels_per_chunk)
        detail::small_d_panels(minv.data(), mini.data(), xh, rows, D, W, B, p0,
                               std::min(P, p0 + panels_per_chunk), lvl);
      for (int64_t r = 0; r < rows; ++r) {
        float bv = std::numeric_limits<float>::infinity();
        int32_t bi = 0;
        bool any = false;
        for (int j = 0; j < lanes; ++j) {
          float v = minv[r * kPanel + j];
          int32_t i = mini[r * kPanel + j];
          if (v < bv || (v == bv && (!any || i < bi))) { bv = v; bi = i; any = true; }
        }
        const int64_t o = h * N + r0 + r;
        idx[o] = bi;
        if (ip) {
          score[o] = -bv;
        } else {
          const float* xr = xh + r * D;
          float xn = 0.f;
          for (int64_t d = 0; d < D; ++d) xn += xr[d] * xr[d];
          score[o] = std::max(xn + bv, 0.f);
        }
      }
    }
  }
}

}  // namespace

SimdLevel simd_level() {
  static const SimdLevel lvl = detect_simd();
  return lvl;
}

const char* simd_level_name(SimdLevel s) {
  switch (s) {
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::avx2: return "avx2";
    default: return "scalar";
  }
}

NcPath nearest_code_choose_path(int64_t N, int64_t K, int64_t D) {
  const SimdLevel lvl = simd_level();
  if (lvl == SimdLevel::scalar) return NcPath::naive;
  const int64_t small_max = lvl == SimdLevel::avx512 ? kSmallDMax : 16;
  return D <= small_max ? NcPath::small_d : NcPath::blocked;
}

void row_sq_norms(float* out, const float* a, int64_t rows, int64_t D) {
#pragma omp parallel for if (rows * D > (int64_t(1) << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const float* r = a + i * D;
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; ++d) acc += r[d] * r[d];
    out[i] = acc;
  }
}

void nearest_code_naive(int64_t* idx, float* score, const float* x, const float* codes,
                        const NcShape& s, bool ip) {
  const int64_t H = s.H, N = s.N, K = s.K, D = s.D;
#pragma omp parallel for collapse(2) if (H * N * K * D > (int64_t(1) << 18))
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + h * s.x_head_stride + n * D;
      const float* ch = codes + h * s.codes_head_stride;
      double best = std::numeric_limits<double>::infinity();
      int64_t bi = 0;
      for (int64_t k = 0; k < K; ++k) {
        const float* c = ch + k * D;
        double acc = 0.0;
        if (ip) {
          for (int64_t d = 0; d < D; ++d) acc += double(xr[d]) * double(c[d]);
          acc = -acc;
        } else {
          for (int64_t d = 0; d < D; ++d) {
            double t = double(xr[d]) - double(c[d]);
            acc += t * t;
          }
        }
        if (acc < best) { best = acc; bi = k; }
      }
      idx[h * N + n] = bi;
      score[h * N + n] = static_cast<float>(ip ? -best : best);
    }
  }
}

void nearest_code_topk_naive(int64_t* idx, float* score, const float* x, const float* codes,
                             const NcShape& s, int64_t k, bool ip) {
  const int64_t H = s.H, N = s.N, K = s.K, D = s.D;
  for (int64_t h = 0; h < H; ++h) {
    std::vector<std::pair<double, int64_t>> all(K);
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + h * s.x_head_stride + n * D;
      const float* ch = codes + h * s.codes_head_stride;
      for (int64_t j = 0; j < K; ++j) {
        const float* c = ch + j * D;
        double acc = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          double t = ip ? double(xr[d]) * double(c[d]) : double(xr[d]) - double(c[d]);
          acc += ip ? t : t * t;
        }
        all[j] = {ip ? -acc : acc, j};
      }
      std::partial_sort(all.begin(), all.begin() + k, all.end());  // (value, index) order
      for (int64_t j = 0; j < k; ++j) {
        idx[(h * N + n) * k + j] = all[j].second;
        score[(h * N + n) * k + j] = static_cast<float>(ip ? -all[j].first : all[j].first);
      }
    }
  }
}

void nearest_code(int64_t* idx, float* score, const float* x, const float* codes,
                  const NcShape& s, bool ip, NcPath path, SimdLevel simd) {
  if (s.H <= 0 || s.N <= 0) return;
  if (static_cast<int>(simd) > static_cast<int>(simd_level())) simd = simd_level();
  if (path == NcPath::automatic) path = nearest_code_choose_path(s.N, s.K, s.D);
  if (path == NcPath::small_d && simd == SimdLevel::scalar) path = NcPath::naive;
  if (path == NcPath::blocked && s.D == 0) path = NcPath::naive;
  switch (path) {
    case NcPath::small_d: nearest_code_small_d(idx, score, x, codes, s, ip, simd); break;
    case NcPath::blocked: nearest_code_blocked(idx, score, x, codes, s, ip, simd); break;
    default: nearest_code_naive(idx, score, x, codes, s, ip); break;
  }
}

}  // namespace vq::cpu
