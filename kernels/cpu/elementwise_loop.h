// CPU loop machinery of the elementwise kernels (internal to kernels/cpu/elementwise*.cpp):
// a parallel walker that splits an EwLayout into chunks of flat indices and hands
// each chunk's rows to a segment function, and segment functions with fast paths for
// the cases that matter (unit strides, a broadcast scalar operand, in-place) written
// as plain restrict loops the compiler auto-vectorizes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/elementwise_defs.h"

namespace vq::cpu::ew_loop {

constexpr int64_t kChunk = int64_t(1) << 16;  // elements per parallel work item

// Walks flat indices [begin, end) of layout l; seg(off, inner_strides, count) gets the
// element offset of each of the N operands at the start of a run of `count` elements
// along the innermost dim, and the operands' innermost strides.
template <int N, typename Seg>
void walk(const EwLayout& l, int64_t begin, int64_t end, const Seg& seg) {
  const int nd = l.ndim;
  const int64_t inner = l.shape[nd - 1];
  int64_t idx[kEwMaxDims];
  int64_t off[N], ist[N];
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % l.shape[d];
    rem /= l.shape[d];
  }
  for (int k = 0; k < N; ++k) {
    off[k] = 0;
    for (int d = 0; d < nd; ++d) off[k] += idx[d] * l.strides[k][d];
    ist[k] = l.strides[k][nd - 1];
  }
  int64_t pos = begin;
  while (pos < end) {
    const int64_t cnt = std::min(inner - idx[nd - 1], end - pos);
    seg(off, ist, cnt);
    pos += cnt;
    if (pos >= end) break;
    // Next row: rewind the inner dim, carry into the outer dims.
    for (int k = 0; k < N; ++k) off[k] -= idx[nd - 1] * ist[k];
    idx[nd - 1] = 0;
    for (int d = nd - 2; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < N; ++k) off[k] += l.strides[k][d];
      if (idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= idx[d] * l.strides[k][d];
      idx[d] = 0;
    }
  }
}

// Runs walk over the whole layout, chunks in parallel (OpenMP) when there are several.
template <int N, typename Seg>
void parallel_walk(const EwLayout& l, const Seg& seg) {
  const int64_t n = l.numel;
  if (n <= 0) return;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (int64_t c = 0; c < nchunks; ++c)
    walk<N>(l, c * kChunk, std::min(n, (c + 1) * kChunk), seg);
}

inline bool same_address(const void* a, const void* b) { return a == b; }

// ---- unary: o = f(x) ----
template <typename To, typename Ti, typename F>
void un_v(To* __restrict o, const Ti* __restrict x, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
}
template <typename T, typename F>
void un_inplace(T* __restrict o, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(o[i]);
}
template <typename To, typename Ti, typename F>
void unary_seg(To* o, int64_t so, const Ti* x, int64_t sx, int64_t n, F f) {
  if (so == 1 && sx == 1) {
    if constexpr (std::is_same_v<To, Ti>) {
      if (same_address(o, x)) return un_inplace(o, n, f);
    }
    return un_v(o, x, n, f);
  }
  if (so == 1 && sx == 0) {
    const To v = f(*x);
    for (int64_t i = 0; i < n; ++i) o[i] = v;
    return;
  }
  for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx]);
}

// ---- binary: o = f(a, b) ----
template <typename To, typename Ti, typename F>
void bin_vv(To* __restrict o, const Ti* __restrict a, const Ti* __restrict b, int64_t n,
            F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
}
template <typename To, typename Ti, typename F>
void bin_vs(To* __restrict o, const Ti* __restrict a, Ti b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b);
}
template <typename To, typename Ti, typename F>
void bin_sv(To* __restrict o, Ti a, const Ti* __restrict b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a, b[i]);
}
template <typename T, typename F>
void bin_inplace_v(T* __restrict o, const T* __restrict b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(o[i], b[i]);
}
template <typename T, typename F>
void bin_inplace_s(T* __restrict o, T b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(o[i], b);
}
// In-place callers (o == a) guarantee b does not overlap o.
template <typename To, typename Ti, typename F>
void binary_seg(To* o, int64_t so, const Ti* a, int64_t sa, const Ti* b, int64_t sb, int64_t n,
                F f) {
  if (so == 1) {
    if constexpr (std::is_same_v<To, Ti>) {
      if (sa == 1 && same_address(o, a)) {
        if (sb == 1) return bin_inplace_v(o, b, n, f);
        if (sb == 0) return bin_inplace_s(o, *b, n, f);
      }
    }
    if (sa == 1 && sb == 1) return bin_vv(o, a, b, n, f);
    if (sa == 1 && sb == 0) return bin_vs(o, a, *b, n, f);
    if (sa == 0 && sb == 1) return bin_sv(o, *a, b, n, f);
  }
  for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
}

// ---- ternary: o = f(a, b, c) ----
template <typename To, typename Ta, typename Tb, typename Tc, typename F>
void ter_vvv(To* __restrict o, const Ta* __restrict a, const Tb* __restrict b,
             const Tc* __restrict c, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
}
template <typename To, typename Ta, typename Tb, typename Tc, typename F>
void ternary_seg(To* o, int64_t so, const Ta* a, int64_t sa, const Tb* b, int64_t sb,
                 const Tc* c, int64_t sc, int64_t n, F f) {
  if (so == 1 && sa == 1 && sb == 1 && sc == 1 && !same_address(o, a) && !same_address(o, b) &&
      !same_address(o, c))
    return ter_vvv(o, a, b, c, n, f);
  for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb], c[i * sc]);
}

// ---- Layout-level drivers (out is operand 0) ----
template <typename To, typename Ti, typename F>
void run_unary(const EwLayout& l, To* out, const Ti* x, F f) {
  parallel_walk<2>(l, [&](const int64_t* off, const int64_t* st, int64_t n) {
    unary_seg(out + off[0], st[0], x + off[1], st[1], n, f);
  });
}
template <typename To, typename Ti, typename F>
void run_binary(const EwLayout& l, To* out, const Ti* a, const Ti* b, F f) {
  parallel_walk<3>(l, [&](const int64_t* off, const int64_t* st, int64_t n) {
    binary_seg(out + off[0], st[0], a + off[1], st[1], b + off[2], st[2], n, f);
  });
}
template <typename To, typename Ta, typename Tb, typename Tc, typename F>
void run_ternary(const EwLayout& l, To* out, const Ta* a, const Tb* b, const Tc* c, F f) {
  parallel_walk<4>(l, [&](const int64_t* off, const int64_t* st, int64_t n) {
    ternary_seg(out + off[0], st[0], a + off[1], st[1], b + off[2], st[2], c + off[3], st[3], n,
                f);
  });
}

}  // namespace vq::cpu::ew_loop
