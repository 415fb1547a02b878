// Rotation trick forward / backward on CPU (see rotation.h). Each row is read by one
// reduction sweep (|x|^2, |q|^2, x.q, and for the backward g.x, g.q) and one sweep that
// writes the result; every other dot product the formula needs follows from those by
// algebra, and the per-element divisions by the row norms are multiplications by their
// reciprocals. Rows are independent (OpenMP).
//
// Backward derivation. Inside one row, with the detached constants
//   u = x0 / mx, qh = q / mq, w = (u + qh) / mw, s = |q| / mx   (x0: the forward input),
// the forward is the linear map  out(x) = s (x - 2 w (w^T x) + 2 qh (u^T x)) = s R x,
// R = I - 2 w w^T + 2 qh u^T. Its Jacobian is s R, so for an upstream gradient g
//   dL/dx = (s R)^T g = s (g - 2 w (w^T g) + 2 u (qh^T g)),
// since (w w^T)^T = w w^T and (qh u^T)^T = u qh^T. q only enters through constants, so
// dL/dq = 0.
//
// |u + qh|^2 = |x|^2/mx^2 + 2 x.q/(mx mq) + |q|^2/mq^2 loses relative accuracy when x and
// q point in nearly opposite directions (the sum is small against its terms); below
// kDirectNorm the row takes one extra sweep that sums (u + qh)^2 directly, as the
// reference does.
#include "kernels/cpu/rotation.h"

#include <algorithm>
#include <cmath>

namespace vq::cpu {
namespace {
constexpr float kEps = 1e-6f;
constexpr float kDirectNorm = 0.0625f;  // |u + qh|^2 ranges over [0, 4]
constexpr int64_t kParallelElems = int64_t(1) << 15;

// The per-row constants shared by the forward and the backward.
struct RowFrame {
  float ix, iq;  // 1 / mx, 1 / mq
  float s;       // |q| / mx
  float nv2;     // |u + qh|^2
};

RowFrame row_frame(const float* xr, const float* qr, int64_t D, float nx2, float nq2,
                   float xq) {
  RowFrame f;
  const float mx = std::max(std::sqrt(nx2), kEps), nq = std::sqrt(nq2);
  const float mq = std::max(nq, kEps);
  f.ix = 1.f / mx;
  f.iq = 1.f / mq;
  f.s = nq / mx;
  f.nv2 = nx2 * f.ix * f.ix + 2.f * xq * f.ix * f.iq + nq2 * f.iq * f.iq;
  if (f.nv2 < kDirectNorm) {
    float nv2 = 0.f;
    const float ix = f.ix, iq = f.iq;
#pragma omp simd reduction(+ : nv2)
    for (int64_t d = 0; d < D; ++d) {
      const float v = xr[d] * ix + qr[d] * iq;
      nv2 += v * v;
    }
    f.nv2 = nv2;
  }
  return f;
}
}  // namespace

void rotation_trick_forward(float* out, const float* x, const float* q, int64_t N, int64_t D) {
#pragma omp parallel for schedule(static) if (N * D > kParallelElems)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    const float* qr = q + n * D;
    float* o = out + n * D;
    float nx2 = 0.f, nq2 = 0.f, xq = 0.f;
#pragma omp simd reduction(+ : nx2, nq2, xq)
    for (int64_t d = 0; d < D; ++d) {
      nx2 += xr[d] * xr[d];
      nq2 += qr[d] * qr[d];
      xq += xr[d] * qr[d];
    }
    const RowFrame f = row_frame(xr, qr, D, nx2, nq2, xq);
    const float mv = std::max(std::sqrt(f.nv2), kEps);
    const float xu = nx2 * f.ix;             // x.u
    const float xv = xu + xq * f.iq;         // x.(u + qh)
    const float cw = 2.f * xv / (mv * mv);   // 2 (x.w) / mw, applied to v = mw w
    const float cq = 2.f * xu;               // 2 (x.u), applied to qh
    const float ix = f.ix, iq = f.iq, s = f.s;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const float qh = qr[d] * iq, v = xr[d] * ix + qh;
      o[d] = s * (xr[d] - cw * v + cq * qh);
    }
  }
}

void rotation_trick_backward(float* dx, const float* g, const float* x, const float* q,
                             int64_t N, int64_t D) {
#pragma omp parallel for schedule(static) if (N * D > kParallelElems)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    const float* qr = q + n * D;
    const float* gr = g + n * D;
    float* o = dx + n * D;
    float nx2 = 0.f, nq2 = 0.f, xq = 0.f, gx = 0.f, gq = 0.f;
#pragma omp simd reduction(+ : nx2, nq2, xq, gx, gq)
    for (int64_t d = 0; d < D; ++d) {
      nx2 += xr[d] * xr[d];
      nq2 += qr[d] * qr[d];
      xq += xr[d] * qr[d];
      gx += gr[d] * xr[d];
      gq += gr[d] * qr[d];
    }
    const RowFrame f = row_frame(xr, qr, D, nx2, nq2, xq);
    const float mv = std::max(std::sqrt(f.nv2), kEps);
    const float gqh = gq * f.iq;                   // qh.g
    const float gv = gx * f.ix + gqh;              // (u + qh).g
    const float cw = 2.f * gv / (mv * mv);         // 2 (w.g) / mw, applied to v = mw w
    const float cu = 2.f * gqh;                    // 2 (qh.g), applied to u
    const float ix = f.ix, iq = f.iq, s = f.s;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const float u = xr[d] * ix, v = u + qr[d] * iq;
      o[d] = s * (gr[d] - cw * v + cu * u);
    }
  }
}

}  // namespace vq::cpu
