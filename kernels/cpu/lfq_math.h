// Per-group math of LFQ (lookup-free quantization, arXiv 2310.05737; spherical = BSQ,
// arXiv 2406.07548), shared by the CPU kernels (kernels/cpu/lfq.cpp) and the CUDA twin
// (kernels/cuda/lfq.cu). A group is the c values of one token and one codebook.
// Same rules as fsq_math.h: no contraction on the host, explicitly rounded ops on the
// device, so both backends produce the same bits.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/cpu/fsq_math.h"

namespace vq::cpu {

// Largest number of bits per codebook the kernels accept (indices are int64).
constexpr int kLfqMaxBits = 62;

// The element-wise part of LFQ. Input x is the projected input of one codebook group.
//   xs = soft_clamp > 0 ? tanh(x / soft_clamp) * soft_clamp : x
//   u  = spherical ? xs / max(|xs|, 1e-12) * scale : xs          (the "original input")
//   bit_i = u_i > 0; q = bit ? +scale : -scale; spherical: q = q / max(|q|, 1e-12) * scale
//   out = training ? a + (q - a) : q   with a = act(u) (a = u for the identity)
//   index = sum_i bit_i * 2^(c-1-i)   (first dimension most significant)
struct LfqParams {
  int32_t c = 1;            // bits per codebook (log2 codebook_size)
  float scale = 1.f;        // codebook_scale
  bool spherical = false;   // BSQ normalization of inputs and codes
  float soft_clamp = 0.f;   // soft_clamp_input_value (0 = none)
  bool exact_tanh = false;  // the soft clamp's tanh: exact (double) or fast_tanh
};

VQ_HD float lfq_soft_clamp(float x, const LfqParams& p) {
  if (p.soft_clamp <= 0.f) return x;
  const float v = div_rn(x, p.soft_clamp);
  return mul_rn(p.exact_tanh ? exact_tanh(v) : fast_tanh(v), p.soft_clamp);
}

// sum_i a_i b_i of a float group in double, in a fixed order (four interleaved partial
// sums, then (s0 + s1) + (s2 + s3)): independent chains for the CPU's out-of-order core,
// the same order on the device.
VQ_HD double lfq_group_dot(const float* a, const float* b, int c) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int i = 0;
  for (; i + 4 <= c; i += 4) {
    s0 = dadd_rn(s0, dmul_rn(a[i], b[i]));
    s1 = dadd_rn(s1, dmul_rn(a[i + 1], b[i + 1]));
    s2 = dadd_rn(s2, dmul_rn(a[i + 2], b[i + 2]));
    s3 = dadd_rn(s3, dmul_rn(a[i + 3], b[i + 3]));
  }
  for (; i < c; ++i) s0 = dadd_rn(s0, dmul_rn(a[i], b[i]));
  return dadd_rn(dadd_rn(s0, s1), dadd_rn(s2, s3));
}

// |v| of a float group, accumulated in double, rounded to float, clamped at
// F.normalize's eps 1e-12.
VQ_HD float lfq_group_norm(const float* v, int c) {
  const float n = static_cast<float>(sqrt(lfq_group_dot(v, v, c)));
  return n > 1e-12f ? n : 1e-12f;
}

// The code magnitude |q_i|: scale, or for spherical normalize(+-scale) * scale over c
// entries. Callers compute it once and pass it to the group functions.
VQ_HD float lfq_sphere_code(const LfqParams& p) {
  const double s2 = static_cast<double>(p.scale) * static_cast<double>(p.scale);
  float n = static_cast<float>(sqrt(s2 * p.c));
  n = n > 1e-12f ? n : 1e-12f;
  return mul_rn(div_rn(p.scale, n), p.scale);
}

VQ_HD float lfq_code_mag(const LfqParams& p) { return p.spherical ? lfq_sphere_code(p) : p.scale; }

// Forward of one group (general path: any option). Writes out[0..c), u_out[0..c) when
// u_out is not null; returns the index. qmag = lfq_code_mag(p).
VQ_HD int64_t lfq_group_forward(float* out, float* u_out, const float* x, const float* act,
                                const LfqParams& p, float qmag, bool training) {
  float u[kLfqMaxBits];
  const int c = p.c;
  for (int i = 0; i < c; ++i) u[i] = lfq_soft_clamp(x[i], p);
  if (p.spherical) {
    const float n = lfq_group_norm(u, c);
    for (int i = 0; i < c; ++i) u[i] = mul_rn(div_rn(u[i], n), p.scale);
  }
  int64_t idx = 0;
  for (int i = 0; i < c; ++i) {
    const bool bit = u[i] > 0.f;
    idx = (idx << 1) | (bit ? 1 : 0);
    const float q = bit ? qmag : -qmag;
    const float a = act ? act[i] : u[i];
    out[i] = training ? add_rn(a, sub_rn(q, a)) : q;
    if (u_out) u_out[i] = u[i];
  }
  return idx;
}

// Backward of one group: dx[0..c) from du[0..c) (the total gradient w.r.t. u), through
// the spherical normalization and the soft clamp (recomputed from x), in the order
// torch's autograd applies them:
//  u = (xs / n) * scale, n = max(|xs|, eps): gs = du * scale,
//    dxs = gs / n - [|xs| >= eps] * (sum_j gs_j xs_j / n^2) * xs / |xs|
//  xs = tanh(x / v) * v: dx = ((dxs * v) * (1 - t^2)) / v
VQ_HD void lfq_group_backward(float* dx, const float* du, const float* x, const LfqParams& p) {
  const int c = p.c;
  float xs[kLfqMaxBits];
  for (int i = 0; i < c; ++i) xs[i] = lfq_soft_clamp(x[i], p);
  float d[kLfqMaxBits];
  if (p.spherical) {
    const float norm = static_cast<float>(sqrt(lfq_group_dot(xs, xs, c)));
    const float n = norm > 1e-12f ? norm : 1e-12f;
    float gs[kLfqMaxBits];
    for (int i = 0; i < c; ++i) gs[i] = mul_rn(du[i], p.scale);
    const double dot = lfq_group_dot(gs, xs, c);
    const bool pass = norm >= 1e-12f;
    const float dn = pass ? static_cast<float>(-dot / (static_cast<double>(n) * n)) : 0.f;
    for (int i = 0; i < c; ++i)
      d[i] = pass ? add_rn(div_rn(gs[i], n), mul_rn(dn, div_rn(xs[i], norm))) : div_rn(gs[i], n);
  } else {
    for (int i = 0; i < c; ++i) d[i] = du[i];
  }
  if (p.soft_clamp > 0.f) {
    for (int i = 0; i < c; ++i) {
      const float v = div_rn(x[i], p.soft_clamp);
      const float t = p.exact_tanh ? exact_tanh(v) : fast_tanh(v);
      dx[i] = div_rn(mul_rn(mul_rn(d[i], p.soft_clamp), sub_rn(1.f, mul_rn(t, t))), p.soft_clamp);
    }
  } else {
    for (int i = 0; i < c; ++i) dx[i] = d[i];
  }
}

// ---- entropy helpers (kernels/cpu/lfq_entropy.h has the math) ----
constexpr int kLfqEntropyMaxBits = 30;
constexpr double kLfqEntropyEps = 1e-5;  // the reference's log clamp

// The reference's clamped per-token entropy H = -sum_k P_k log max(P_k, eps) of the
// product distribution P_k = prod_i (b_i(k) ? p_i : 1 - p_i), from the "heavy" codes
// (P_k >= eps) only: H = -sum_heavy P log P - log(eps) (1 - sum_heavy P). The heavy
// codes (at most 1/eps of them) are enumerated depth-first, the most confident bits
// first, pruning a branch when even its most likely completion falls below eps. When
// grad is not null, adds dH/da_i (a_i the logit of p_i) into grad[i]:
//   dH/da_i = sum_heavy P_k (b_i(k) - p_i) (log(eps / P_k) - 1)
// (the tail's terms cancel because sum_all P_k (b_i(k) - p_i) = 0). Subtree sums are
// carried up the tree, so each visited node costs O(1). p: c values in [0, 1].
VQ_HD double lfq_heavy_entropy(const double* p, int c, double* grad) {
  const double eps = kLfqEntropyEps, log_eps = log(kLfqEntropyEps);
  int order[kLfqEntropyMaxBits];
  double m[kLfqEntropyMaxBits];
  for (int i = 0; i < c; ++i) {
    m[i] = p[i] >= 0.5 ? p[i] : 1.0 - p[i];
    order[i] = i;
  }
  for (int i = 1; i < c; ++i) {  // insertion sort, most confident first
    const int v = order[i];
    int j = i - 1;
    while (j >= 0 && m[order[j]] < m[v]) {
      order[j + 1] = order[j];
      --j;
    }
    order[j + 1] = v;
  }
  double suffix[kLfqEntropyMaxBits + 1];
  suffix[c] = 1.0;
  for (int j = c - 1; j >= 0; --j) suffix[j] = suffix[j + 1] * m[order[j]];
  double prob[kLfqEntropyMaxBits + 1], sp[kLfqEntropyMaxBits + 1], spl[kLfqEntropyMaxBits + 1],
      sw[kLfqEntropyMaxBits + 1], S[kLfqEntropyMaxBits];
  int choice[kLfqEntropyMaxBits + 1];
  for (int i = 0; i < c; ++i) S[i] = 0.0;
  prob[0] = 1.0;
  choice[0] = -1;
  sp[0] = spl[0] = sw[0] = 0.0;
  int d = 0;
  for (;;) {
    if (++choice[d] <= 1) {
      const int i = order[d];
      const double np = prob[d] * (choice[d] == 0 ? m[i] : 1.0 - m[i]);
      if (np * suffix[d + 1] < eps) {
        choice[d] = 1;  // the other branch is less likely still
        continue;
      }
      if (d + 1 == c) {  // a heavy leaf
        const double w = np * (log_eps - log(np) - 1.0);
        sp[d] += np;
        spl[d] += np * log(np);
        sw[d] += w;
        if ((choice[d] == 0) == (p[i] >= 0.5)) S[i] += w;  // bit i set in this code
      } else {
        ++d;
        prob[d] = np;
        choice[d] = -1;
        sp[d] = spl[d] = sw[d] = 0.0;
      }
      continue;
    }
    if (d == 0) break;
    const int parent = d - 1, i = order[parent];
    sp[parent] += sp[d];
    spl[parent] += spl[d];
    sw[parent] += sw[d];
    if ((choice[parent] == 0) == (p[i] >= 0.5)) S[i] += sw[d];
    d = parent;
  }
  if (grad)
    for (int i = 0; i < c; ++i) grad[i] += S[i] - p[i] * sw[0];
  return -spl[0] - log_eps * (1.0 - sp[0]);
}

}  // namespace vq::cpu
