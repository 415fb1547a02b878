// LFQ CPU kernels (see lfq.h). The plain configuration (no soft clamp, not spherical)
// runs a flat vectorized loop for the values (AVX-512 / AVX2 chosen at run time) and
// a per-group loop for the indices; every other configuration runs the shared group
// functions of lfq_math.h, which the CUDA twin runs too.
// No contraction into FMA (before any include): same bits as the CUDA twin.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/cpu/lfq.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/fsq_simd.h"

namespace vq::cpu {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kCommitBlockRows = 1024;

bool is_plain(const LfqParams& p) { return !p.spherical && p.soft_clamp <= 0.f; }

// indices[g] = sum_i [x[g c + i] > 0] 2^(c-1-i) for groups [0, G); C > 0 is the
// compile-time width (vectorizes across groups), C = 0 the generic loop.
template <int C>
inline VQ_SQ_ALWAYS_INLINE void group_indices(int64_t* __restrict idx, const float* __restrict x,
                                              int64_t G, int64_t c) {
  const int64_t w = C > 0 ? C : c;
  for (int64_t g = 0; g < G; ++g) {
    int64_t v = 0;
    for (int64_t i = 0; i < w; ++i) v |= static_cast<int64_t>(x[g * w + i] > 0.f) << (w - 1 - i);
    idx[g] = v;
  }
}

inline VQ_SQ_ALWAYS_INLINE void all_group_indices(int64_t* idx, const float* x, int64_t G, int64_t c) {
  switch (c) {
    case 4: return group_indices<4>(idx, x, G, c);
    case 6: return group_indices<6>(idx, x, G, c);
    case 8: return group_indices<8>(idx, x, G, c);
    case 10: return group_indices<10>(idx, x, G, c);
    case 12: return group_indices<12>(idx, x, G, c);
    case 14: return group_indices<14>(idx, x, G, c);
    case 16: return group_indices<16>(idx, x, G, c);
    case 18: return group_indices<18>(idx, x, G, c);
    default: return group_indices<0>(idx, x, G, c);
  }
}

}  // namespace

void lfq_forward(float* out, int64_t* indices, float* u_out, const float* x, const float* act,
                 int64_t N, int64_t H, const LfqParams& p, bool training) {
  const int64_t c = p.c, W = H * c, G = N * H;
  if (G <= 0 || c <= 0) return;
  if (is_plain(p) && !act) {
    constexpr int64_t kBlock = 4096;
    const int64_t blocks = (G + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * W > kParallelMin)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t g0 = b * kBlock, g1 = std::min(G, g0 + kBlock);
      // out = training ? x + (q - x) : q, q = x > 0 ? scale : -scale
      float* __restrict o = out + g0 * c;
      const float* __restrict xb = x + g0 * c;
      const int64_t n = (g1 - g0) * c;
      const float s = p.scale;
      sq_run([&]() VQ_SQ_ALWAYS_INLINE {
        if (training) {
          for (int64_t e = 0; e < n; ++e) {
            const float q = xb[e] > 0.f ? s : -s;
            o[e] = add_rn(xb[e], sub_rn(q, xb[e]));
          }
        } else {
          for (int64_t e = 0; e < n; ++e) o[e] = xb[e] > 0.f ? s : -s;
        }
      });
      if (u_out) std::copy(x + g0 * c, x + g1 * c, u_out + g0 * c);
      if (indices)
        sq_run([&]() VQ_SQ_ALWAYS_INLINE { all_group_indices(indices + g0, x + g0 * c, g1 - g0, c); });
    }
    return;
  }
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (G + kBlock - 1) / kBlock;
  const float qmag = lfq_code_mag(p);
#pragma omp parallel for schedule(static) if (N * W > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t g0 = b * kBlock, g1 = std::min(G, g0 + kBlock);
    sq_run([&]() VQ_SQ_ALWAYS_INLINE {
      for (int64_t g = g0; g < g1; ++g) {
        const int64_t idx =
            lfq_group_forward(out + g * c, u_out ? u_out + g * c : nullptr, x + g * c,
                              act ? act + g * c : nullptr, p, qmag, training);
        if (indices) indices[g] = idx;
      }
    });
  }
}

void lfq_commitment_sum(double* sum, const float* u, const uint8_t* row_mask, int64_t N,
                        int64_t H, const LfqParams& p) {
  const int64_t c = p.c, W = H * c;
  const int64_t blocks = (N + kCommitBlockRows - 1) / kCommitBlockRows;
  std::vector<double> part(static_cast<size_t>(std::max<int64_t>(blocks, 1)), 0.0);
  const float qmag = lfq_code_mag(p);
#pragma omp parallel for schedule(static) if (N * W > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    double acc = 0.0;
    const int64_t r1 = std::min(N, (b + 1) * kCommitBlockRows);
    for (int64_t r = b * kCommitBlockRows; r < r1; ++r) {
      if (row_mask && !row_mask[r]) continue;
      const float* ur = u + r * W;
      for (int64_t e = 0; e < W; ++e) {
        const float q = ur[e] > 0.f ? qmag : -qmag;
        const float d = sub_rn(ur[e], q);
        acc += static_cast<double>(mul_rn(d, d));
      }
    }
    part[b] = acc;
  }
  double total = 0.0;
  for (double v : part) total += v;
  *sum = total;
}

void lfq_backward(float* dx, const float* g_out, const float* g_u, const float* x,
                  float commit_coef, const uint8_t* row_mask, int64_t N, int64_t H,
                  const LfqParams& p, bool ste_to_u) {
  const int64_t c = p.c, W = H * c;
  if (N <= 0 || W <= 0) return;
  const bool plain = is_plain(p);
  const bool commit = commit_coef != 0.f;
  const float* go = (ste_to_u && g_out) ? g_out : nullptr;
  const float qmag = lfq_code_mag(p);
  if (plain && !commit) {  // dx = g_out + g_u: one flat vectorized pass
    const int64_t n = N * W;
    constexpr int64_t kBlock = 8192;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t e0 = b * kBlock, e1 = std::min(n, e0 + kBlock);
      float* __restrict d = dx;
      sq_run([&]() VQ_SQ_ALWAYS_INLINE {
        if (go && g_u) {
          for (int64_t e = e0; e < e1; ++e) d[e] = add_rn(go[e], g_u[e]);
        } else if (go) {
          for (int64_t e = e0; e < e1; ++e) d[e] = go[e];
        } else if (g_u) {
          for (int64_t e = e0; e < e1; ++e) d[e] = add_rn(0.f, g_u[e]);
        } else {
          for (int64_t e = e0; e < e1; ++e) d[e] = 0.f;
        }
      });
    }
    return;
  }
#pragma omp parallel for schedule(static) if (N * W > kParallelMin)
  for (int64_t r = 0; r < N; ++r) {
    const bool sel = commit && (!row_mask || row_mask[r]);
    sq_run([&]() VQ_SQ_ALWAYS_INLINE {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = r * W + h * c;
        float du[kLfqMaxBits], u[kLfqMaxBits], q[kLfqMaxBits];
        for (int64_t i = 0; i < c; ++i) {
          float v = 0.f;
          if (go) v = go[o + i];
          if (g_u) v = add_rn(v, g_u[o + i]);
          du[i] = v;
        }
        if (sel) {
          lfq_group_forward(q, u, x + o, nullptr, p, qmag, false);
          for (int64_t i = 0; i < c; ++i)
            du[i] = add_rn(du[i], mul_rn(commit_coef, mul_rn(2.f, sub_rn(u[i], q[i]))));
        }
        if (plain) {
          for (int64_t i = 0; i < c; ++i) dx[o + i] = du[i];
        } else {
          lfq_group_backward(dx + o, du, x + o, p);
        }
      }
    });
  }
}

void lfq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const LfqParams& p) {
  const int64_t c = p.c;
  const float qmag = lfq_code_mag(p);
#pragma omp parallel for schedule(static) if (M * c > kParallelMin)
  for (int64_t m = 0; m < M; ++m) {
    const int64_t idx = indices[m];
    for (int64_t i = 0; i < c; ++i) {
      const bool bit = ((idx >> (c - 1 - i)) & 1) != 0;
      codes[m * c + i] = idx < 0 ? 0.f : (bit ? qmag : -qmag);
    }
  }
}

}  // namespace vq::cpu
