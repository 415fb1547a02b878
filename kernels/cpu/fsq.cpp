// FSQ CPU kernels (see fsq.h). The element formulas live in fsq_math.h (shared with
// CUDA). Rows are processed in chunks of about kChunkElems elements; the
// per-dimension constants are replicated over a chunk so the inner loop runs over
// contiguous memory and vectorizes (AVX-512 / AVX2 variants chosen at run time, see
// fsq_simd.h). Indices are summed per row in int64 after the vector loop.
// Same bits as the CUDA twin and across instruction sets: no contraction into FMA
// (set before any include, so that every function of this file agrees).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/cpu/fsq.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/fsq_simd.h"

namespace vq::cpu {
namespace {

constexpr int64_t kChunkElems = 256;
constexpr int64_t kParallelMin = 1 << 15;

// Per-dimension constants replicated over the E = rows * W elements of one chunk.
struct Repl {
  int64_t E = 0;
  std::vector<float> half_l, offset, shift, hw, lm1, ss, pre, post, rmax, inv_hw;
};

Repl replicate(const FsqTables& t, int64_t H, int64_t rows, bool unit_post) {
  Repl r;
  r.E = rows * H * t.c;
  for (auto* v : {&r.half_l, &r.offset, &r.shift, &r.hw, &r.lm1, &r.ss, &r.pre, &r.post, &r.rmax, &r.inv_hw})
    v->resize(r.E);
  for (int64_t e = 0; e < r.E; ++e) {
    const int j = static_cast<int>(e % t.c);
    r.half_l[e] = t.half_l[j];
    r.offset[e] = t.offset[j];
    r.shift[e] = t.shift[j];
    r.hw[e] = t.half_width[j];
    r.lm1[e] = t.lm1[j];
    r.ss[e] = t.sym_scale[j];
    r.pre[e] = t.pre_div[j];
    r.post[e] = unit_post ? 1.f : t.post_mul[j];
    r.rmax[e] = t.r_max[j];
    r.inv_hw[e] = t.inv_half_width[j];
  }
  return r;
}

template <bool kSym, bool kHard, bool kExact, bool kPre, bool kPow2>
inline VQ_SQ_ALWAYS_INLINE void fwd_body(float* __restrict out, float* __restrict lev,
                           const float* __restrict z, int64_t n, const Repl& r) {
  const float* __restrict half_l = r.half_l.data();
  const float* __restrict offset = r.offset.data();
  const float* __restrict shift = r.shift.data();
  const float* __restrict hw = r.hw.data();
  const float* __restrict lm1 = r.lm1.data();
  const float* __restrict ss = r.ss.data();
  const float* __restrict pre = r.pre.data();
  const float* __restrict post = r.post.data();
  const float* __restrict rmax = r.rmax.data();
  const float* __restrict inv_hw = r.inv_hw.data();
  for (int64_t e = 0; e < n; ++e) {
    const FsqElemConst k{half_l[e], offset[e], shift[e], hw[e],    lm1[e],  ss[e],
                         pre[e],    post[e],   -hw[e],   rmax[e], inv_hw[e]};
    float l;
    const float code = fsq_code<kSym, kHard, kExact, kPre, kPow2>(z[e], k, &l);
    out[e] = mul_rn(code, k.post_mul);
    lev[e] = l;
  }
}

template <bool kSym, bool kHard, bool kExact, bool kPre, bool kPow2>
inline VQ_SQ_ALWAYS_INLINE void bwd_body(float* __restrict dz, const float* __restrict g,
                           const float* __restrict z, int64_t n, const Repl& r) {
  const float* __restrict half_l = r.half_l.data();
  const float* __restrict offset = r.offset.data();
  const float* __restrict shift = r.shift.data();
  const float* __restrict hw = r.hw.data();
  const float* __restrict lm1 = r.lm1.data();
  const float* __restrict ss = r.ss.data();
  const float* __restrict pre = r.pre.data();
  const float* __restrict post = r.post.data();
  const float* __restrict inv_hw = r.inv_hw.data();
  for (int64_t e = 0; e < n; ++e) {
    const FsqElemConst k{half_l[e], offset[e], shift[e], hw[e], lm1[e],   ss[e],
                         pre[e],    post[e],   0.f,      0.f,   inv_hw[e]};
    dz[e] = fsq_grad<kSym, kHard, kExact, kPre, kPow2>(g[e], z[e], k);
  }
}

// Calls f(sym, hard, exact, pre, pow2) with std::integral_constant<bool> arguments
// (pre: some pre_div != 1; pow2: every L // 2 a power of two, standard bound only).
template <class F>
void with_variant(const FsqTables& t, bool exact, const F& f) {
  using T = std::true_type;
  using N = std::false_type;
  bool pre = false, pow2 = !t.symmetric;
  for (int j = 0; j < t.c; ++j) {
    pre = pre || t.pre_div[j] != 1.f;
    const int hw = static_cast<int>(t.half_width[j]);
    pow2 = pow2 && (hw & (hw - 1)) == 0;
  }
  auto with_pp = [&](auto S, auto H, auto X) {
    if (pre) return pow2 ? f(S, H, X, T{}, T{}) : f(S, H, X, T{}, N{});
    return pow2 ? f(S, H, X, N{}, T{}) : f(S, H, X, N{}, N{});
  };
  if (t.symmetric) {
    if (t.hard_clamp) return exact ? with_pp(T{}, T{}, T{}) : with_pp(T{}, T{}, N{});
    return exact ? with_pp(T{}, N{}, T{}) : with_pp(T{}, N{}, N{});
  }
  if (t.hard_clamp) return exact ? with_pp(N{}, T{}, T{}) : with_pp(N{}, T{}, N{});
  return exact ? with_pp(N{}, N{}, T{}) : with_pp(N{}, N{}, N{});
}

// Runs f() for the chosen instruction set, or as is for the exact (libm) tanh.
template <bool kExact, class F>
void run_for(const F& f) {
  if constexpr (kExact) f();
  else sq_run(f);
}

// index[r] = sum_j level[r c + j] * basis_j for `rows` rows; C > 0 is the compile-time
// code width (vectorizes across rows), C = 0 the generic loop.
template <int C>
inline VQ_SQ_ALWAYS_INLINE void row_indices(int64_t* __restrict idx, const float* __restrict lev,
                                            const FsqTables& t, int64_t rows) {
  if constexpr (C > 0) {
    int64_t b[C];
    for (int j = 0; j < C; ++j) b[j] = t.basis[j];
    for (int64_t r = 0; r < rows; ++r) {
      int64_t s = 0;
      for (int j = 0; j < C; ++j) s += static_cast<int64_t>(lev[r * C + j]) * b[j];
      idx[r] = s;
    }
  } else {
    const int64_t c = t.c;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t s = 0;
      for (int64_t j = 0; j < c; ++j) s += static_cast<int64_t>(lev[r * c + j]) * t.basis[j];
      idx[r] = s;
    }
  }
}

inline VQ_SQ_ALWAYS_INLINE void all_row_indices(int64_t* idx, const float* lev, const FsqTables& t,
                                                int64_t rows) {
  switch (t.c) {
    case 1: return row_indices<1>(idx, lev, t, rows);
    case 2: return row_indices<2>(idx, lev, t, rows);
    case 3: return row_indices<3>(idx, lev, t, rows);
    case 4: return row_indices<4>(idx, lev, t, rows);
    case 5: return row_indices<5>(idx, lev, t, rows);
    case 6: return row_indices<6>(idx, lev, t, rows);
    case 8: return row_indices<8>(idx, lev, t, rows);
    default: return row_indices<0>(idx, lev, t, rows);
  }
}

int64_t rows_per_chunk(int64_t W) { return std::max<int64_t>(1, kChunkElems / W); }

}  // namespace

FsqTables fsq_make_tables(const std::vector<int64_t>& levels, bool symmetric, bool hard_clamp,
                          const std::vector<float>& pre_div, const std::vector<float>& post_mul,
                          bool need_indices) {
  const int64_t c = static_cast<int64_t>(levels.size());
  VQ_CHECK(ConfigError, c >= 1 && c <= kFsqMaxDim, "FSQ: levels must have 1..", kFsqMaxDim,
                     " entries, got ", c);
  VQ_CHECK(ConfigError, pre_div.empty() || static_cast<int64_t>(pre_div.size()) == c,
                     "FSQ: pre_div must have len(levels)=", c, " entries, got ", pre_div.size());
  VQ_CHECK(ConfigError, post_mul.empty() || static_cast<int64_t>(post_mul.size()) == c,
                     "FSQ: post_mul must have len(levels)=", c, " entries, got ", post_mul.size());
  FsqTables t;
  t.c = static_cast<int32_t>(c);
  t.symmetric = symmetric;
  t.hard_clamp = hard_clamp;
  int64_t basis = 1;
  bool overflow = false;
  for (int64_t j = 0; j < c; ++j) {
    const int64_t L = levels[j];
    VQ_CHECK(ConfigError, L >= 2 && L <= (int64_t{1} << 24), "FSQ: levels must be in [2, 2^24], got ",
                       L, " at position ", j);
    VQ_CHECK(ConfigError, L != 2 || symmetric, "FSQ: a level of 2 (position ", j,
                       ") needs preserve_symmetry=True, or use a greater level");
    t.levels[j] = static_cast<int32_t>(L);
    t.basis[j] = basis;
    if (basis > INT64_MAX / L) overflow = true;
    else basis *= L;
    // The reference's float32 formulas: half_l = (L - 1) * (1 + 1e-3) / 2, offset 0.5 for
    // even L, shift = atanh(offset / half_l) (offset / half_l with the hard clamp).
    t.half_l[j] = static_cast<float>(L - 1) * static_cast<float>(1.0 + 1e-3) / 2.0f;
    t.offset[j] = (L % 2 == 0) ? 0.5f : 0.0f;
    const float ratio = t.offset[j] / t.half_l[j];
    t.shift[j] = hard_clamp ? ratio : static_cast<float>(std::atanh(static_cast<double>(ratio)));
    t.half_width[j] = static_cast<float>(L / 2);
    t.inv_half_width[j] = 1.0f / t.half_width[j];
    t.lm1[j] = static_cast<float>(L - 1);
    t.sym_scale[j] = 2.0f / static_cast<float>(L - 1);
    t.pre_div[j] = pre_div.empty() ? 1.f : pre_div[j];
    t.post_mul[j] = post_mul.empty() ? 1.f : post_mul[j];
    t.r_max[j] = static_cast<float>(L / 2 - (L % 2 == 0 ? 1 : 0));
  }
  VQ_CHECK(ConfigError, !need_indices || !overflow,
                     "FSQ: prod(levels) does not fit in int64 indices; use return_indices=False");
  for (int64_t j = c; j < kFsqMaxDim; ++j) {
    t.levels[j] = 1;
    t.basis[j] = 0;
    t.half_l[j] = t.offset[j] = t.shift[j] = t.lm1[j] = 0.f;
    t.half_width[j] = t.inv_half_width[j] = t.sym_scale[j] = t.pre_div[j] = t.post_mul[j] = 1.f;
    t.r_max[j] = 0.f;
  }
  return t;
}

void fsq_forward(float* codes, int64_t* indices, const float* z, int64_t N, int64_t H,
                 const FsqTables& t, bool exact, const FsqNoise& noise) {
  const int64_t c = t.c, W = H * c;
  if (N <= 0 || W <= 0) return;
  const int64_t R = rows_per_chunk(W);
  const bool noisy = noise.prob > 0.f;
  const Repl rep = replicate(t, H, R, noisy);
  const int64_t nchunks = (N + R - 1) / R;
#pragma omp parallel if (N * W > kParallelMin)
  {
    std::vector<float> lev(static_cast<size_t>(R * W));
#pragma omp for schedule(static)
    for (int64_t ci = 0; ci < nchunks; ++ci) {
      const int64_t r0 = ci * R, rows = std::min(R, N - r0);
      float* out = codes + r0 * W;
      with_variant(t, exact, [&](auto S, auto Hc, auto X, auto P, auto P2) {
        run_for<decltype(X)::value>([&]() VQ_SQ_ALWAYS_INLINE {
          fwd_body<decltype(S)::value, decltype(Hc)::value, decltype(X)::value,
                   decltype(P)::value, decltype(P2)::value>(out, lev.data(), z + r0 * W,
                                                            rows * W, rep);
          if (indices) all_row_indices(indices + r0 * H, lev.data(), t, rows * H);
        });
      });
      if (noisy) {
        sq_run([&]() VQ_SQ_ALWAYS_INLINE {
          for (int64_t e = 0; e < rows * W; ++e) {
            bool pass;
            const int j = static_cast<int>(e % c);
            const float v =
                fsq_apply_noise(out[e], noise, static_cast<uint64_t>(r0 * W + e), &pass);
            out[e] = mul_rn(v, t.post_mul[j]);
          }
        });
      }
    }
  }
}

void fsq_backward(float* dz, const float* dcodes, const float* z, int64_t N, int64_t H,
                  const FsqTables& t, bool exact, const FsqNoise& noise) {
  const int64_t c = t.c, W = H * c;
  if (N <= 0 || W <= 0) return;
  const int64_t R = rows_per_chunk(W);
  const bool noisy = noise.prob > 0.f;
  const Repl rep = replicate(t, H, R, false);
  const int64_t nchunks = (N + R - 1) / R;
#pragma omp parallel for schedule(static) if (N * W > kParallelMin)
  for (int64_t ci = 0; ci < nchunks; ++ci) {
    const int64_t r0 = ci * R, rows = std::min(R, N - r0);
    with_variant(t, exact, [&](auto S, auto Hc, auto X, auto P, auto P2) {
      run_for<decltype(X)::value>([&]() VQ_SQ_ALWAYS_INLINE {
        bwd_body<decltype(S)::value, decltype(Hc)::value, decltype(X)::value,
                 decltype(P)::value, decltype(P2)::value>(dz + r0 * W, dcodes + r0 * W,
                                                          z + r0 * W, rows * W, rep);
      });
    });
    if (noisy) {
      // Zero the gradient where the noised code left [-1, 1] (the clamp's mask).
      with_variant(t, exact, [&](auto S, auto Hc, auto X, auto, auto) {
        run_for<decltype(X)::value>([&]() VQ_SQ_ALWAYS_INLINE {
          for (int64_t e = 0; e < rows * W; ++e) {
            const int64_t i = r0 * W + e;
            float level;
            bool pass;
            const float code = fsq_code<decltype(S)::value, decltype(Hc)::value,
                                        decltype(X)::value>(
                z[i], fsq_elem_const(t, static_cast<int>(e % c)), &level);
            fsq_apply_noise(code, noise, static_cast<uint64_t>(i), &pass);
            if (!pass) dz[i] = 0.f;
          }
        });
      });
    }
  }
}

void fsq_soft_clamp(float* y, const float* x, int64_t N, int64_t D, const float* values,
                    int64_t nvalues, bool exact) {
  const int64_t n = N * D;
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t e0 = b * kBlock, e1 = std::min(n, e0 + kBlock);
    sq_run([&]() VQ_SQ_ALWAYS_INLINE {
      for (int64_t e = e0; e < e1; ++e) {
        const float v = values[nvalues == 1 ? 0 : e % D];
        const float a = div_rn(x[e], v);
        y[e] = mul_rn(exact ? exact_tanh(a) : fast_tanh(a), v);
      }
    });
  }
}

void fsq_soft_clamp_backward(float* dx, const float* g, const float* x, int64_t N, int64_t D,
                             const float* values, int64_t nvalues, bool exact) {
  const int64_t n = N * D;
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t e0 = b * kBlock, e1 = std::min(n, e0 + kBlock);
    sq_run([&]() VQ_SQ_ALWAYS_INLINE {
      for (int64_t e = e0; e < e1; ++e) {
        const float v = values[nvalues == 1 ? 0 : e % D];
        const float a = div_rn(x[e], v);
        const float t = exact ? exact_tanh(a) : fast_tanh(a);
        dx[e] = div_rn(mul_rn(mul_rn(g[e], v), sub_rn(1.f, mul_rn(t, t))), v);
      }
    });
  }
}

void fsq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const FsqTables& t) {
  const int64_t c = t.c;
#pragma omp parallel for schedule(static) if (M * c > kParallelMin)
  for (int64_t m = 0; m < M; ++m) {
    const int64_t idx = indices[m];
    for (int64_t j = 0; j < c; ++j) {
      float v = 0.f;
      if (idx >= 0) {
        const float level = static_cast<float>((idx / t.basis[j]) % t.levels[j]);
        v = mul_rn(fsq_level_to_code(level, fsq_elem_const(t, static_cast<int>(j)), t.symmetric),
                   t.post_mul[j]);
      }
      codes[m * c + j] = v;
    }
  }
}

void fsq_codes_to_indices(int64_t* indices, const float* codes, int64_t M, const FsqTables& t) {
  const int64_t c = t.c;
#pragma omp parallel for schedule(static) if (M * c > kParallelMin)
  for (int64_t m = 0; m < M; ++m) {
    int64_t idx = 0;
    for (int64_t j = 0; j < c; ++j) {
      const float code = div_rn(codes[m * c + j], t.post_mul[j]);
      const float level = t.symmetric ? div_rn(add_rn(code, 1.f), t.sym_scale[j])
                                      : add_rn(mul_rn(code, t.half_width[j]), t.half_width[j]);
      idx += static_cast<int64_t>(round_even(level)) * t.basis[j];
    }
    indices[m] = idx;
  }
}

void fsq_indices_to_levels(int64_t* levels, const int64_t* indices, int64_t M,
                           const FsqTables& t) {
  const int64_t c = t.c;
#pragma omp parallel for schedule(static) if (M * c > kParallelMin)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < c; ++j) {
      // Python floor division and modulo (non-negative result), like the reference.
      int64_t q = indices[m] / t.basis[j];
      if (indices[m] % t.basis[j] != 0 && indices[m] < 0) --q;
      int64_t r = q % t.levels[j];
      if (r < 0) r += t.levels[j];
      levels[m * c + j] = r;
    }
}

}  // namespace vq::cpu
