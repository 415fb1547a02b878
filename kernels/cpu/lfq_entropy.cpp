// LFQ entropy terms on the CPU (see lfq_entropy.h for the math): the factorized
// per-sample entropy, the batch entropy as a split-bit GEMM over token tiles (OpenBLAS
// sgemm), and the exact enumeration mode used for parity with the reference.
#include "kernels/cpu/lfq_entropy.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/lfq_math.h"

namespace vq::cpu {
namespace {

constexpr double kEps = 1e-5;          // the reference's entropy log clamp
constexpr int64_t kTileFloats = 1 << 21;  // A or B tile budget (8 MiB)
constexpr int64_t kParallelMin = 64;      // tokens

struct Split {
  int c1, c2;
  int64_t K1, K2;
};
Split split_bits(int c) {
  Split s;
  s.c1 = (c + 1) / 2;
  s.c2 = c - s.c1;
  s.K1 = int64_t{1} << s.c1;
  s.K2 = int64_t{1} << s.c2;
  return s;
}

const float* token_ptr(const float* u, const int64_t* rows, int64_t t, int64_t h,
                       const LfqEntropyParams& p) {
  const int64_t r = rows ? rows[t] : t;
  return u + r * p.H * p.c + h * p.c;
}

// Binary entropy of sigmoid(a), stable for any a.
double binary_entropy(double a) {
  const double aa = std::fabs(a), e = std::exp(-aa);
  return std::log1p(e) + aa * e / (1.0 + e);
}

// Per-bit logits a_i = 4 beta m u_i and probabilities p_i = sigmoid(a_i), q_i = 1 - p_i
// (pd: p_i in double).
void bit_probs(double* a, double* pd, float* p1, float* p0, const float* u, const LfqEntropyParams& p) {
  const double f = 4.0 * static_cast<double>(p.inv_temperature) * static_cast<double>(p.code_mag);
  for (int i = 0; i < p.c; ++i) {
    a[i] = f * static_cast<double>(u[i]);
    pd[i] = 1.0 / (1.0 + std::exp(-a[i]));
    p1[i] = static_cast<float>(pd[i]);
    p0[i] = static_cast<float>(1.0 / (1.0 + std::exp(a[i])));
  }
}

// The per-sample entropy of one token (see LfqEntropyMode); adds dH/da into grad if given.
double token_entropy(const double* a, const double* pd, int c, LfqEntropyMode mode, double* grad) {
  if (mode == LfqEntropyMode::unclamped) {
    double e = 0.0;
    for (int i = 0; i < c; ++i) {
      e += binary_entropy(a[i]);
      if (grad) grad[i] += -a[i] * pd[i] * (1.0 - pd[i]);
    }
    return e;
  }
  return lfq_heavy_entropy(pd, c, grad);
}

// Kronecker doubling: out[0..2^n) = products over the n bits (first bit most significant).
// `levels` (optional, 2^(n+1) - 1 floats) keeps every level for the backward.
void expand(float* out, float* levels, const float* p1, const float* p0, int n) {
  out[0] = 1.f;
  if (levels) levels[0] = 1.f;
  int64_t len = 1;
  for (int i = 0; i < n; ++i) {
    for (int64_t j = len - 1; j >= 0; --j) {
      const float v = out[j];
      out[2 * j + 1] = v * p1[i];
      out[2 * j] = v * p0[i];
    }
    len *= 2;
    if (levels) std::copy(out, out + len, levels + (len - 1));
  }
}

// Back through expand(): given d out (length 2^n, destroyed), adds d/dp1_i - d/dp0_i
// chains into dp[i] (dp = d loss / d p_i, using p0 = 1 - p1).
void expand_backward(double* dp, double* dout, const float* levels, const float* p1,
                     const float* p0, int n) {
  for (int i = n - 1; i >= 0; --i) {
    const int64_t len = int64_t{1} << i;
    const float* prev = levels + (len - 1);
    double acc1 = 0.0, acc0 = 0.0;
    for (int64_t j = 0; j < len; ++j) {
      const double d0 = dout[2 * j], d1 = dout[2 * j + 1];
      acc1 += d1 * prev[j];
      acc0 += d0 * prev[j];
      dout[j] = d0 * p0[i] + d1 * p1[i];
    }
    dp[i] += acc1 - acc0;
  }
}

int64_t tile_tokens(const Split& s) {
  return std::max<int64_t>(16, std::min<int64_t>(4096, kTileFloats / std::max(s.K1, s.K2)));
}

// ---- exact mode: one token's full distribution over K = 2^c codes ----
// l_k = (2 * (u . C_k)) * beta with u . C_k summed left to right (the doubling below
// adds dimension i at level i), P = softmax(l). Returns the clamped entropy.
double exact_token(float* P, const float* u, const LfqEntropyParams& p) {
  const int64_t K = int64_t{1} << p.c;
  P[0] = 0.f;
  int64_t len = 1;
  for (int i = 0; i < p.c; ++i) {
    const float m = u[i] * p.code_mag;
    for (int64_t j = len - 1; j >= 0; --j) {
      const float v = P[j];
      P[2 * j + 1] = v + m;
      P[2 * j] = v + (-m);
    }
    len *= 2;
  }
  float lmax = -INFINITY;
  for (int64_t k = 0; k < K; ++k) {
    P[k] = (2.f * P[k]) * p.inv_temperature;
    lmax = std::max(lmax, P[k]);
  }
  double Z = 0.0;
  for (int64_t k = 0; k < K; ++k) {
    P[k] = std::exp(P[k] - lmax);
    Z += P[k];
  }
  double ent = 0.0;
  for (int64_t k = 0; k < K; ++k) {
    P[k] = static_cast<float>(P[k] / Z);
    ent -= static_cast<double>(P[k]) * std::log(std::max(static_cast<double>(P[k]), kEps));
  }
  return ent;
}

void exact_forward(float* avg, double* per_sample, const float* u, const int64_t* rows, int64_t T,
                   const LfqEntropyParams& p) {
  const int64_t K = int64_t{1} << p.c, HK = p.H * K;
  // Fixed token blocks (independent of the thread count) with private partial sums.
  const int64_t NB = std::max<int64_t>(1, std::min<int64_t>({T, 64, (int64_t{1} << 24) / HK}));
  std::vector<float> part(static_cast<size_t>(NB * HK), 0.f);
  std::vector<double> ent(static_cast<size_t>(NB), 0.0);
#pragma omp parallel if (T > kParallelMin)
  {
    std::vector<float> P(static_cast<size_t>(K));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < NB; ++b) {
      const int64_t t0 = b * T / NB, t1 = (b + 1) * T / NB;
      float* pb = part.data() + b * HK;
      double e = 0.0;
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t h = 0; h < p.H; ++h) {
          e += exact_token(P.data(), token_ptr(u, rows, t, h, p), p);
          float* ph = pb + h * K;
          for (int64_t k = 0; k < K; ++k) ph[k] += P[k];
        }
      ent[b] = e;
    }
  }
  double e = 0.0;
  for (double v : ent) e += v;
  for (int64_t k = 0; k < HK; ++k) {
    double s = 0.0;
    for (int64_t b = 0; b < NB; ++b) s += part[b * HK + k];
    avg[k] = static_cast<float>(s / static_cast<double>(T));
  }
  *per_sample = e / static_cast<double>(T * p.H);
}

void exact_backward(float* du, const float* u, const int64_t* rows, int64_t T, const float* G,
                    float coef_ps, const LfqEntropyParams& p) {
  const int64_t K = int64_t{1} << p.c;
  const double alpha = static_cast<double>(coef_ps) / static_cast<double>(T * p.H);
  const double invT = 1.0 / static_cast<double>(T);
  const double chain = 2.0 * static_cast<double>(p.inv_temperature) * p.code_mag;
#pragma omp parallel if (T > kParallelMin)
  {
    std::vector<float> P(static_cast<size_t>(K));
    std::vector<double> D(static_cast<size_t>(K));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < p.H; ++h) {
        exact_token(P.data(), token_ptr(u, rows, t, h, p), p);
        const float* Gh = G ? G + h * K : nullptr;
        double wbar = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          const double pk = P[k];
          const double g = -(std::log(std::max(pk, kEps)) + (pk >= kEps ? 1.0 : 0.0));
          const double w = alpha * g + (Gh ? Gh[k] * invT : 0.0);
          D[k] = w;
          wbar += pk * w;
        }
        for (int64_t k = 0; k < K; ++k) D[k] = P[k] * (D[k] - wbar);  // d loss / d l_k
        float* dut = du + (rows ? rows[t] : t) * p.H * p.c + h * p.c;
        for (int i = p.c - 1; i >= 0; --i) {
          const int64_t len = int64_t{1} << i;
          double s = 0.0;
          for (int64_t j = 0; j < len; ++j) {
            s += D[2 * j + 1] - D[2 * j];
            D[j] = D[2 * j] + D[2 * j + 1];
          }
          dut[i] += static_cast<float>(chain * s);
        }
      }
  }
}

}  // namespace

void lfq_entropy_forward(float* avg, double* per_sample, const float* u, const int64_t* rows,
                         int64_t T, const LfqEntropyParams& p) {
  const int64_t K = int64_t{1} << p.c;
  std::fill(avg, avg + p.H * K, 0.f);
  *per_sample = 0.0;
  if (T <= 0) return;
  if (p.mode == LfqEntropyMode::exact) {
    exact_forward(avg, per_sample, u, rows, T, p);
    return;
  }
  const Split s = split_bits(p.c);
  const int64_t Tt = std::min(T, tile_tokens(s));
  std::vector<float> A(static_cast<size_t>(Tt * s.K1)), B(static_cast<size_t>(Tt * s.K2));
  std::vector<double> ent(static_cast<size_t>(Tt));
  double ent_total = 0.0;
  const float alpha = static_cast<float>(1.0 / static_cast<double>(T));
  for (int64_t h = 0; h < p.H; ++h) {
    float* avg_h = avg + h * K;
    for (int64_t t0 = 0; t0 < T; t0 += Tt) {
      const int64_t n = std::min(Tt, T - t0);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t tt = 0; tt < n; ++tt) {
        double a[64], pd[64];
        float p1[64], p0[64];
        bit_probs(a, pd, p1, p0, token_ptr(u, rows, t0 + tt, h, p), p);
        expand(A.data() + tt * s.K1, nullptr, p1, p0, s.c1);
        expand(B.data() + tt * s.K2, nullptr, p1 + s.c1, p0 + s.c1, s.c2);
        ent[tt] = token_entropy(a, pd, p.c, p.mode, nullptr);
      }
      for (int64_t tt = 0; tt < n; ++tt) ent_total += ent[tt];
      // avg_h[K1, K2] += (1/T) A^T B
      sgemm(true, false, s.K1, s.K2, n, alpha, A.data(), s.K1, B.data(), s.K2, 1.f, avg_h, s.K2);
    }
  }
  *per_sample = ent_total / static_cast<double>(T * p.H);
}

double lfq_batch_entropy(const float* avg, int64_t H, int32_t c) {
  const int64_t K = int64_t{1} << c;
  double total = 0.0;
  for (int64_t h = 0; h < H; ++h) {
    double e = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      const double v = avg[h * K + k];
      e -= v * std::log(std::max(v, kEps));
    }
    total += e;
  }
  return H > 0 ? total / static_cast<double>(H) : 0.0;
}

void lfq_batch_entropy_grad(float* G, const float* avg, int64_t H, int32_t c, float coef) {
  const int64_t n = H * (int64_t{1} << c);
  const double f = static_cast<double>(coef) / static_cast<double>(H);
  for (int64_t k = 0; k < n; ++k) {
    const double v = avg[k];
    G[k] = static_cast<float>(-f * (std::log(std::max(v, kEps)) + (v >= kEps ? 1.0 : 0.0)));
  }
}

void lfq_entropy_backward(float* du, const float* u, const int64_t* rows, int64_t T,
                          const float* G, float coef_ps, const LfqEntropyParams& p) {
  if (T <= 0) return;
  if (p.mode == LfqEntropyMode::exact) {
    exact_backward(du, u, rows, T, G, coef_ps, p);
    return;
  }
  const int64_t K = int64_t{1} << p.c;
  const Split s = split_bits(p.c);
  const int64_t Tt = std::min(T, tile_tokens(s));
  const double alpha_ps = static_cast<double>(coef_ps) / static_cast<double>(T * p.H);
  const double chain = 4.0 * static_cast<double>(p.inv_temperature) * p.code_mag;
  const float invT = static_cast<float>(1.0 / static_cast<double>(T));
  std::vector<float> A, B, dA, dB;
  if (G) {
    A.resize(static_cast<size_t>(Tt * s.K1));
    B.resize(static_cast<size_t>(Tt * s.K2));
    dA.resize(A.size());
    dB.resize(B.size());
  }
  for (int64_t h = 0; h < p.H; ++h) {
    const float* Gh = G ? G + h * K : nullptr;
    for (int64_t t0 = 0; t0 < T; t0 += Tt) {
      const int64_t n = std::min(Tt, T - t0);
      if (Gh) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
        for (int64_t tt = 0; tt < n; ++tt) {
          double a[64], pd[64];
          float p1[64], p0[64];
          bit_probs(a, pd, p1, p0, token_ptr(u, rows, t0 + tt, h, p), p);
          expand(A.data() + tt * s.K1, nullptr, p1, p0, s.c1);
          expand(B.data() + tt * s.K2, nullptr, p1 + s.c1, p0 + s.c1, s.c2);
        }
        // dA[n, K1] = B G^T / T, dB[n, K2] = A G / T
        sgemm(false, true, n, s.K1, s.K2, invT, B.data(), s.K2, Gh, s.K2, 0.f, dA.data(), s.K1);
        sgemm(false, false, n, s.K2, s.K1, invT, A.data(), s.K1, Gh, s.K2, 0.f, dB.data(), s.K2);
      }
#pragma omp parallel if (n > kParallelMin)
      {
        std::vector<float> lev1, lev2, tmp1, tmp2;
        std::vector<double> d1, d2;
        if (Gh) {
          lev1.resize(static_cast<size_t>(2 * s.K1));
          lev2.resize(static_cast<size_t>(2 * s.K2));
          tmp1.resize(static_cast<size_t>(s.K1));
          tmp2.resize(static_cast<size_t>(s.K2));
          d1.resize(static_cast<size_t>(s.K1));
          d2.resize(static_cast<size_t>(s.K2));
        }
#pragma omp for schedule(static)
        for (int64_t tt = 0; tt < n; ++tt) {
          double a[64], pd[64], dp[64], dh[64];
          float p1[64], p0[64];
          bit_probs(a, pd, p1, p0, token_ptr(u, rows, t0 + tt, h, p), p);
          std::fill(dp, dp + p.c, 0.0);
          std::fill(dh, dh + p.c, 0.0);
          if (alpha_ps != 0.0) token_entropy(a, pd, p.c, p.mode, dh);
          if (Gh) {
            expand(tmp1.data(), lev1.data(), p1, p0, s.c1);
            expand(tmp2.data(), lev2.data(), p1 + s.c1, p0 + s.c1, s.c2);
            for (int64_t j = 0; j < s.K1; ++j) d1[j] = dA[tt * s.K1 + j];
            for (int64_t j = 0; j < s.K2; ++j) d2[j] = dB[tt * s.K2 + j];
            expand_backward(dp, d1.data(), lev1.data(), p1, p0, s.c1);
            expand_backward(dp + s.c1, d2.data(), lev2.data(), p1 + s.c1, p0 + s.c1, s.c2);
          }
          const int64_t r = rows ? rows[t0 + tt] : t0 + tt;
          float* dut = du + r * p.H * p.c + h * p.c;
          for (int i = 0; i < p.c; ++i) {
            // d/da through p = sigmoid(a): p (1 - p); dh = d per-token entropy / da.
            const double pq = static_cast<double>(p1[i]) * static_cast<double>(p0[i]);
            const double da = dp[i] * pq + alpha_ps * dh[i];
            dut[i] += static_cast<float>(chain * da);
          }
        }
      }
    }
  }
}

}  // namespace vq::cpu
