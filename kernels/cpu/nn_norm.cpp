// CPU LayerNorm and GroupNorm (see nn_norm.h): two-pass statistics in double per row
// or group, OpenMP over rows / groups, parameter gradients as partial sums over fixed
// row chunks added in order.
#include "kernels/cpu/nn_norm.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace vq::cpu {

namespace {

// Rows per partial sum of dgamma / dbeta (fixed: the order never depends on threads).
constexpr int64_t kRowChunk = 64;

// mean and 1/sqrt(var + eps) of n contiguous values (two passes, double).
inline void moments(const float* x, int64_t n, float eps, float* mean_out, float* rstd_out) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const double m = n > 0 ? s / static_cast<double>(n) : 0.0;
  double q = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - m;
    q += d * d;
  }
  const double var = n > 0 ? q / static_cast<double>(n) : 0.0;
  *mean_out = static_cast<float>(m);
  *rstd_out = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
}

}  // namespace

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t N, int64_t D, float eps) {
#pragma omp parallel for schedule(static) if (N * D > 16384)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    float* yr = y + n * D;
    moments(xr, D, eps, &mean[n], &rstd[n]);
    const float m = mean[n], r = rstd[n];
    for (int64_t d = 0; d < D; ++d) {
      float v = (xr[d] - m) * r;
      if (gamma) v *= gamma[d];
      if (beta) v += beta[d];
      yr[d] = v;
    }
  }
}

void layer_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t N, int64_t D) {
  if (dx) {
#pragma omp parallel for schedule(static) if (N * D > 16384)
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + n * D;
      const float* gr = dy + n * D;
      const float m = mean[n], r = rstd[n];
      double a = 0, b = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double g = gamma ? static_cast<double>(gr[d]) * gamma[d] : gr[d];
        a += g;
        b += g * ((xr[d] - m) * r);
      }
      const double ma = a / static_cast<double>(D), mb = b / static_cast<double>(D);
      float* out = dx + n * D;
      for (int64_t d = 0; d < D; ++d) {
        const double g = gamma ? static_cast<double>(gr[d]) * gamma[d] : gr[d];
        const double xh = (xr[d] - m) * r;
        out[d] = static_cast<float>(r * (g - ma - xh * mb));
      }
    }
  }
  if (!dgamma && !dbeta) return;
  const int64_t chunks = std::max<int64_t>(1, (N + kRowChunk - 1) / kRowChunk);
  std::vector<double> pg(dgamma ? chunks * D : 0), pb(dbeta ? chunks * D : 0);
#pragma omp parallel for schedule(static) if (N * D > 16384)
  for (int64_t c = 0; c < chunks; ++c) {
    double* sg = dgamma ? pg.data() + c * D : nullptr;
    double* sb = dbeta ? pb.data() + c * D : nullptr;
    for (int64_t n = c * kRowChunk; n < std::min(N, (c + 1) * kRowChunk); ++n) {
      const float* xr = x + n * D;
      const float* gr = dy + n * D;
      const float m = mean[n], r = rstd[n];
      for (int64_t d = 0; d < D; ++d) {
        if (sg) sg[d] += static_cast<double>(gr[d]) * ((xr[d] - m) * r);
        if (sb) sb[d] += gr[d];
      }
    }
  }
  for (int64_t d = 0; d < D; ++d) {
    double sg = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      if (dgamma) sg += pg[c * D + d];
      if (dbeta) sb += pb[c * D + d];
    }
    if (dgamma) dgamma[d] = static_cast<float>(sg);
    if (dbeta) dbeta[d] = static_cast<float>(sb);
  }
}

void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, int64_t B, int64_t C, int64_t S, int64_t G,
                        float eps) {
  const int64_t cg = C / G, M = cg * S;
#pragma omp parallel for schedule(static) if (B * C * S > 16384)
  for (int64_t bg = 0; bg < B * G; ++bg) {
    const float* xg = x + bg * M;
    float* yg = y + bg * M;
    moments(xg, M, eps, &mean[bg], &rstd[bg]);
    const float m = mean[bg], r = rstd[bg];
    const int64_t c0 = (bg % G) * cg;
    for (int64_t k = 0; k < cg; ++k) {
      const float ga = gamma ? gamma[c0 + k] : 1.f, be = beta ? beta[c0 + k] : 0.f;
      const float* xc = xg + k * S;
      float* yc = yg + k * S;
      for (int64_t s = 0; s < S; ++s) {
        float v = (xc[s] - m) * r;
        if (gamma) v *= ga;
        if (beta) v += be;
        yc[s] = v;
      }
    }
  }
}

void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                         const float* x, const float* mean, const float* rstd,
                         const float* gamma, int64_t B, int64_t C, int64_t S, int64_t G) {
  const int64_t cg = C / G, M = cg * S;
  // ds[b, c] = sum_s dy xhat, db[b, c] = sum_s dy
  std::vector<double> ds(B * C), db(B * C);
#pragma omp parallel for schedule(static) if (B * C * S > 16384)
  for (int64_t bc = 0; bc < B * C; ++bc) {
    const int64_t bg = (bc / C) * G + (bc % C) / cg;
    const float m = mean[bg], r = rstd[bg];
    const float* xc = x + bc * S;
    const float* gc = dy + bc * S;
    double a = 0, b = 0;
    for (int64_t s = 0; s < S; ++s) {
      a += static_cast<double>(gc[s]) * ((xc[s] - m) * r);
      b += gc[s];
    }
    ds[bc] = a;
    db[bc] = b;
  }
  if (dx) {
#pragma omp parallel for schedule(static) if (B * C * S > 16384)
    for (int64_t bg = 0; bg < B * G; ++bg) {
      const int64_t b = bg / G, c0 = (bg % G) * cg;
      double A = 0, Bv = 0;
      for (int64_t k = 0; k < cg; ++k) {
        const double ga = gamma ? gamma[c0 + k] : 1.0;
        A += ga * db[b * C + c0 + k];
        Bv += ga * ds[b * C + c0 + k];
      }
      const double mA = A / static_cast<double>(M), mB = Bv / static_cast<double>(M);
      const float m = mean[bg], r = rstd[bg];
      for (int64_t k = 0; k < cg; ++k) {
        const double ga = gamma ? gamma[c0 + k] : 1.0;
        const int64_t off = (b * C + c0 + k) * S;
        for (int64_t s = 0; s < S; ++s) {
          const double xh = (x[off + s] - m) * r;
          dx[off + s] = static_cast<float>(r * (dy[off + s] * ga - mA - xh * mB));
        }
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    double sg = 0, sb = 0;
    for (int64_t b = 0; b < B; ++b) {
      sg += ds[b * C + c];
      sb += db[b * C + c];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sg);
    if (dbeta) dbeta[c] = static_cast<float>(sb);
  }
}

}  // namespace vq::cpu
