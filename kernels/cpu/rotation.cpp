// Rotation trick forward / backward on CPU (see rotation.h). Each row is swept three
// times while it sits in L1: (1) |x|^2, |q|^2; (2) |u + qh|^2 and the dot products the
// output needs; (3) the axpys that write the result. Rows are independent (OpenMP).
//
// Backward derivation. Inside one row, with the detached constants
//   u = x0 / mx, qh = q / mq, w = (u + qh) / mw, s = |q| / mx   (x0: the forward input),
// the forward is the linear map  out(x) = s (x - 2 w (w^T x) + 2 qh (u^T x)) = s R x,
// R = I - 2 w w^T + 2 qh u^T. Its Jacobian is s R, so for an upstream gradient g
//   dL/dx = (s R)^T g = s (g - 2 w (w^T g) + 2 u (qh^T g)),
// since (w w^T)^T = w w^T and (qh u^T)^T = u qh^T. q only enters through constants, so
// dL/dq = 0.
#include "kernels/cpu/rotation.h"

#include <algorithm>
#include <cmath>

namespace vq::cpu {
namespace {
constexpr float kEps = 1e-6f;
constexpr int64_t kParallelElems = int64_t(1) << 15;
}  // namespace

void rotation_trick_forward(float* out, const float* x, const float* q, int64_t N, int64_t D) {
#pragma omp parallel for schedule(static) if (N * D > kParallelElems)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    const float* qr = q + n * D;
    float* o = out + n * D;
    float nx2 = 0.f, nq2 = 0.f;
#pragma omp simd reduction(+ : nx2, nq2)
    for (int64_t d = 0; d < D; ++d) {
      nx2 += xr[d] * xr[d];
      nq2 += qr[d] * qr[d];
    }
    const float mx = std::max(std::sqrt(nx2), kEps), nq = std::sqrt(nq2);
    const float mq = std::max(nq, kEps);
    float nv2 = 0.f, xv = 0.f, xu = 0.f;
#pragma omp simd reduction(+ : nv2, xv, xu)
    for (int64_t d = 0; d < D; ++d) {
      const float u = xr[d] / mx, v = u + qr[d] / mq;
      nv2 += v * v;
      xv += xr[d] * v;
      xu += xr[d] * u;
    }
    const float mv = std::max(std::sqrt(nv2), kEps);
    const float s = nq / mx;
    const float cw = 2.f * (xv / mv) / mv;  // 2 (x.w) / mw, applied to v = mw w
    const float cq = 2.f * xu;              // 2 (x.u), applied to qh
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const float qh = qr[d] / mq, v = xr[d] / mx + qh;
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
    float nx2 = 0.f, nq2 = 0.f;
#pragma omp simd reduction(+ : nx2, nq2)
    for (int64_t d = 0; d < D; ++d) {
      nx2 += xr[d] * xr[d];
      nq2 += qr[d] * qr[d];
    }
    const float mx = std::max(std::sqrt(nx2), kEps), nq = std::sqrt(nq2);
    const float mq = std::max(nq, kEps);
    float nv2 = 0.f, gv = 0.f, gq = 0.f;
#pragma omp simd reduction(+ : nv2, gv, gq)
    for (int64_t d = 0; d < D; ++d) {
      const float qh = qr[d] / mq, v = xr[d] / mx + qh;
      nv2 += v * v;
      gv += gr[d] * v;
      gq += gr[d] * qh;
    }
    const float mv = std::max(std::sqrt(nv2), kEps);
    const float s = nq / mx;
    const float cw = 2.f * (gv / mv) / mv;  // 2 (w.g) / mw, applied to v = mw w
    const float cu = 2.f * gq;              // 2 (qh.g), applied to u
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const float u = xr[d] / mx, v = u + qr[d] / mq;
      o[d] = s * (gr[d] - cw * v + cu * u);
    }
  }
}

}  // namespace vq::cpu
