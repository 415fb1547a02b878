// CPU 2-D convolution: 3x3 "same" convolutions with 8..64 channels go to Winograd
// F(2x2, 3x3) (conv_wino.h), other small stride-1
// convolutions to the direct kernels (conv_direct.h); the rest run im2col per image into a
// thread-local buffer, one single-threaded OpenBLAS GEMM per image inside an OpenMP loop over
// images (the images are the parallelism; a 3x3 conv GEMM per image is too small to thread well),
// and the backward with fixed-order sums for dW and dbias (see conv.h).
#include "kernels/cpu/conv.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_wino.h"

namespace vq::cpu {

namespace {

// Images per partial dW sum: fixed, so the summation order never depends on threads.
constexpr int64_t kImagesPerGroup = 4;

// Sets OpenBLAS to one thread for its lifetime when `on` (restored afterwards).
class SingleThreadBlas {
 public:
  explicit SingleThreadBlas(bool on) : on_(on) {
    if (on_) {
      saved_ = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
  }
  ~SingleThreadBlas() {
    if (on_) openblas_set_num_threads(saved_);
  }

 private:
  bool on_;
  int saved_ = 1;
};

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), 1.f, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

// Output columns j whose input column j*S - P + v lies in [0, W): [lo, hi).
inline void valid_range(int64_t W, int64_t Wo, int64_t S, int64_t P, int64_t v, int64_t* lo,
                        int64_t* hi) {
  int64_t a = P - v;  // need j*S >= a
  int64_t l = a <= 0 ? 0 : (a + S - 1) / S;
  int64_t b = W - 1 + P - v;  // need j*S <= b
  int64_t h = b < 0 ? 0 : b / S + 1;
  *lo = std::min(l, Wo);
  *hi = std::max(*lo, std::min(h, Wo));
}

// Stride 1 with Wo == W (e.g. 3x3 "same" convolutions): output (i, j) of tap (u, v)
// reads input (i + u - PH, j + v - PW), a constant flat shift of the plane, so whole
// planes are copied / added at once instead of row by row; the few cells whose shift
// wraps into a neighbouring row are fixed up afterwards.
struct FlatTap {
  int64_t s;             // flat shift: input index = output index + s
  int64_t ilo, ihi;      // output rows whose input row is inside the image
  int64_t jlo, jhi;      // output columns whose input column is inside the image
  int64_t kbegin, kend;  // flat output range [ilo*W + jlo, (ihi-1)*W + jhi)
};

inline bool flat_ok(const Conv2dGeometry& g) { return g.SH == 1 && g.SW == 1 && g.Wo == g.W; }

inline FlatTap flat_tap(const Conv2dGeometry& g, int64_t u, int64_t v) {
  FlatTap t;
  const int64_t d = u - g.PH, e = v - g.PW;
  t.s = d * g.W + e;
  t.ilo = std::min(g.Ho, std::max<int64_t>(0, -d));
  t.ihi = std::max(t.ilo, std::min(g.Ho, g.H - d));
  valid_range(g.W, g.Wo, 1, g.PW, v, &t.jlo, &t.jhi);
  t.kbegin = t.ilo * g.W + t.jlo;
  t.kend = t.ihi > t.ilo ? (t.ihi - 1) * g.W + t.jhi : t.kbegin;
  return t;
}

// col [CKK, P] <- im2col of one image xb [C, H, W].
void im2col_one(float* col, const float* xb, const Conv2dGeometry& g) {
  const int64_t P = g.p();
  const bool flat = flat_ok(g);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t u = 0; u < g.KH; ++u)
      for (int64_t v = 0; v < g.KW; ++v) {
        float* row = col + ((c * g.KH + u) * g.KW + v) * P;
        const float* plane = xb + c * g.H * g.W;
        if (flat) {
          const FlatTap t = flat_tap(g, u, v);
          std::fill(row, row + t.ilo * g.W, 0.f);
          // k + t.s stays inside the plane for k in [kbegin, kend)
          for (int64_t k = t.kbegin; k < t.kend; ++k) row[k] = plane[k + t.s];
          for (int64_t i = t.ilo; i < t.ihi; ++i) {
            float* r = row + i * g.W;
            for (int64_t j = 0; j < t.jlo; ++j) r[j] = 0.f;
            for (int64_t j = t.jhi; j < g.Wo; ++j) r[j] = 0.f;
          }
          std::fill(row + t.ihi * g.W, row + P, 0.f);
          continue;
        }
        int64_t jlo, jhi;
        valid_range(g.W, g.Wo, g.SW, g.PW, v, &jlo, &jhi);
        for (int64_t i = 0; i < g.Ho; ++i) {
          float* out = row + i * g.Wo;
          const int64_t h = i * g.SH - g.PH + u;
          if (h < 0 || h >= g.H) {
            std::fill(out, out + g.Wo, 0.f);
            continue;
          }
          const float* in = plane + h * g.W;
          const int64_t shift = v - g.PW;  // input column of output column j: j*SW + shift
          for (int64_t j = 0; j < jlo; ++j) out[j] = 0.f;
          if (g.SW == 1) {
            for (int64_t j = jlo; j < jhi; ++j) out[j] = in[j + shift];
          } else {
            for (int64_t j = jlo; j < jhi; ++j) out[j] = in[j * g.SW + shift];
          }
          for (int64_t j = jhi; j < g.Wo; ++j) out[j] = 0.f;
        }
      }
}

// dxb [C, H, W] = col2im(col [CKK, P]): each column entry is added to the input pixel
// it was read from; order (c, u, v, i, j), so each pixel sums its (u, v) taps in order.
// col is scratch: the flat path zeroes its wrapped cells (adding +0 changes nothing).
void col2im_one(float* dxb, float* col, const Conv2dGeometry& g) {
  const int64_t P = g.p();
  const bool flat = flat_ok(g);
  std::fill(dxb, dxb + g.C * g.H * g.W, 0.f);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t u = 0; u < g.KH; ++u)
      for (int64_t v = 0; v < g.KW; ++v) {
        float* row = col + ((c * g.KH + u) * g.KW + v) * P;
        float* plane = dxb + c * g.H * g.W;
        if (flat) {
          const FlatTap t = flat_tap(g, u, v);
          for (int64_t i = t.ilo; i < t.ihi; ++i) {
            float* r = row + i * g.W;
            for (int64_t j = 0; j < t.jlo; ++j) r[j] = 0.f;
            for (int64_t j = t.jhi; j < g.Wo; ++j) r[j] = 0.f;
          }
          for (int64_t k = t.kbegin; k < t.kend; ++k) plane[k + t.s] += row[k];
          continue;
        }
        int64_t jlo, jhi;
        valid_range(g.W, g.Wo, g.SW, g.PW, v, &jlo, &jhi);
        for (int64_t i = 0; i < g.Ho; ++i) {
          const int64_t h = i * g.SH - g.PH + u;
          if (h < 0 || h >= g.H) continue;
          float* out = plane + h * g.W;
          const int64_t shift = v - g.PW;
          const float* in = row + i * g.Wo;
          for (int64_t j = jlo; j < jhi; ++j) out[j * g.SW + shift] += in[j];
        }
      }
}

}  // namespace

void conv2d_im2col(float* col, const float* x, const Conv2dGeometry& g, int64_t b0, int64_t nb) {
  const int64_t img = g.C * g.H * g.W, cs = g.ckk() * g.p();
#pragma omp parallel for schedule(static) if (nb > 1)
  for (int64_t b = 0; b < nb; ++b) im2col_one(col + b * cs, x + (b0 + b) * img, g);
}

void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const Conv2dGeometry& g) {
  const int64_t P = g.p(), CKK = g.ckk(), img = g.C * g.H * g.W;
  if (g.B == 0 || g.O == 0 || P == 0) return;
  if (conv2d_wino_applies(g)) return conv2d_wino_forward(y, x, w, bias, g, conv_isa());
  if (conv2d_direct_applies(g)) return conv2d_direct_forward(y, x, w, bias, g, conv_isa());
  const bool par = g.B > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
  SingleThreadBlas guard(par);
#pragma omp parallel if (par)
  {
    std::unique_ptr<float[]> col(new float[static_cast<size_t>(CKK * P)]);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < g.B; ++b) {
      float* yb = y + b * g.O * P;
      im2col_one(col.get(), x + b * img, g);
      gemm(false, false, g.O, P, CKK, w, CKK, col.get(), P, 0.f, yb, P);
      if (bias) {
        for (int64_t o = 0; o < g.O; ++o) {
          const float bo = bias[o];
          float* r = yb + o * P;
          for (int64_t p = 0; p < P; ++p) r[p] += bo;
        }
      }
    }
  }
}

void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const Conv2dGeometry& g) {
  const int64_t P = g.p(), CKK = g.ckk(), img = g.C * g.H * g.W, OP = g.O * P;
  const int64_t wsize = g.O * CKK;
  // the direct and Winograd paths sum dbias while they pack dy (one pass over dy)
  if (conv2d_wino_applies(g)) return conv2d_wino_backward(dx, dw, dbias, dy, x, w, g, conv_isa());
  if (conv2d_direct_applies(g))
    return conv2d_direct_backward(dx, dw, dbias, dy, x, w, g, conv_isa());
  if (dbias) {
    // dbias[o] = sum over (b, p) in that order, accumulated in double.
#pragma omp parallel for schedule(static) if (g.O > 1 && g.B * P > 4096)
    for (int64_t o = 0; o < g.O; ++o) {
      double s = 0;
      for (int64_t b = 0; b < g.B; ++b) {
        const float* r = dy + b * OP + o * P;
        // 8 interleaved partial sums (a fixed order the compiler can vectorize)
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t p = 0;
        for (; p + 8 <= P; p += 8)
          for (int k = 0; k < 8; ++k) acc[k] += r[p + k];
        for (; p < P; ++p) acc[p & 7] += r[p];
        s += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      }
      dbias[o] = static_cast<float>(s);
    }
  }
  if (!dx && !dw) return;
  if (g.B == 0 || P == 0 || g.O == 0) {
    if (dx) std::fill(dx, dx + g.B * img, 0.f);
    if (dw) std::fill(dw, dw + wsize, 0.f);
    return;
  }
  const int64_t groups = (g.B + kImagesPerGroup - 1) / kImagesPerGroup;
  std::unique_ptr<float[]> partial;
  float* part = dw;
  if (dw && groups > 1) {
    partial.reset(new float[static_cast<size_t>(groups * wsize)]);
    part = partial.get();
  }
  const bool par = groups > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
  SingleThreadBlas guard(par);
#pragma omp parallel if (par)
  {
    std::unique_ptr<float[]> col(dw ? new float[static_cast<size_t>(CKK * P)] : nullptr);
    std::unique_ptr<float[]> dcol(dx ? new float[static_cast<size_t>(CKK * P)] : nullptr);
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      const int64_t b_end = std::min(g.B, (grp + 1) * kImagesPerGroup);
      for (int64_t b = grp * kImagesPerGroup; b < b_end; ++b) {
        const float* dyb = dy + b * OP;
        if (dw) {
          im2col_one(col.get(), x + b * img, g);
          // part[grp] (+)= dy_b [O, P] col_b^T [P, CKK]
          gemm(false, true, g.O, CKK, P, dyb, P, col.get(), P,
               b == grp * kImagesPerGroup ? 0.f : 1.f, part + grp * wsize, CKK);
        }
        if (dx) {
          // dcol [CKK, P] = W^T [CKK, O] dy_b [O, P]
          gemm(true, false, CKK, P, g.O, w, CKK, dyb, P, 0.f, dcol.get(), P);
          col2im_one(dx + b * img, dcol.get(), g);
        }
      }
    }
  }
  if (dw && groups > 1) {
#pragma omp parallel for schedule(static) if (wsize * groups > 65536)
    for (int64_t e = 0; e < wsize; ++e) {
      float s = part[e];
      for (int64_t grp = 1; grp < groups; ++grp) s += part[grp * wsize + e];
      dw[e] = s;
    }
  }
}

}  // namespace vq::cpu
