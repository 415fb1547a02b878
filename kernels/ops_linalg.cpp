// Linear algebra ops: matmul (torch.matmul semantics, batch dims broadcast), gemm
// (in place, 2-D) and bmm (declared in kernels/ops.h). All three reduce to one batched
// GEMM engine: each operand is a logical [..., rows, cols] view that BLAS can read
// directly when its last two dims are row-major or transposed with a valid leading
// dimension (so x.t() costs no copy), else it is made contiguous once, before any
// broadcast expand (an expanded batch dim is stride 0 and never materialized). The CPU
// goes to cblas_sgemm (kernels/cpu/blas.h), CUDA to cuBLAS (kernels/cuda/blas.h).
#include <algorithm>
#include <ostream>
#include <string>

#include "core/error.h"
#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/blas.h"
#endif

namespace vq::ops {

namespace {

struct Layout {
  bool trans = false;
  int64_t ld = 1;
};

// Can the logical [rows, cols] matrix with element strides (s0, s1) be passed to BLAS?
// Row-major: element (i, j) at i * ld + j; transposed: stored [cols, rows], at j * ld + i.
bool blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1, Layout* out) {
  if ((cols <= 1 || s1 == 1) && (rows <= 1 || s0 >= std::max<int64_t>(1, cols))) {
    *out = {false, rows <= 1 ? std::max<int64_t>(1, cols) : s0};
    return true;
  }
  if ((rows <= 1 || s0 == 1) && (cols <= 1 || s1 >= std::max<int64_t>(1, rows))) {
    *out = {true, cols <= 1 ? std::max<int64_t>(1, rows) : s1};
    return true;
  }
  return false;
}

Layout layout_of(const Tensor& t) {
  Layout l;
  const int64_t n = t.dim();
  const bool ok = blas_layout(t.size(n - 2), t.size(n - 1), t.stride(n - 2), t.stride(n - 1), &l);
  if (!ok) throw Error("matmul: internal error, operand " + t.str() + " is not BLAS-ready");
  return l;
}

// t itself when BLAS can read its last two dims, else a contiguous copy.
Tensor blas_ready(const Tensor& t) {
  Layout l;
  const int64_t n = t.dim();
  if (blas_layout(t.size(n - 2), t.size(n - 1), t.stride(n - 2), t.stride(n - 1), &l)) return t;
  return t.contiguous();
}

// Element offsets of every batch item (all dims but the last two) of t, row-major order.
std::vector<int64_t> batch_offsets(const Tensor& t, int64_t batch) {
  const int64_t nb = t.dim() - 2;
  std::vector<int64_t> offs(static_cast<size_t>(batch), 0);
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(nb, 0)), 0);
  for (int64_t i = 0; i < batch; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < nb; ++d) off += idx[d] * t.stride(d);
    offs[i] = off;
    for (int64_t d = nb - 1; d >= 0; --d) {  // increment the multi-index
      if (++idx[d] < t.size(d)) break;
      idx[d] = 0;
    }
  }
  return offs;
}

// c[..., M, N] = alpha * a[..., M, K] b[..., K, N] + beta * c for BLAS-ready a and b whose
// batch dims equal c's (possibly stride-0 expanded); c contiguous.
void gemm_engine(const Tensor& a, const Tensor& b, Tensor& c, float alpha, float beta) {
  const int64_t nd = a.dim();
  const int64_t M = a.size(nd - 2), K = a.size(nd - 1), N = b.size(nd - 1);
  const int64_t batch = shape_numel(Shape(c.shape().begin(), c.shape().end() - 2));
  if (M == 0 || N == 0 || batch == 0) return;
  const Layout la = layout_of(a), lb = layout_of(b);
  const int64_t ldc = std::max<int64_t>(1, N);
  const float* A = a.data<float>();
  const float* B = b.data<float>();
  float* C = c.data<float>();
  const Device dev = c.device();
  if (batch == 1) {
    if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
      cuda::sgemm(la.trans, lb.trans, M, N, K, alpha, A, la.ld, B, lb.ld, beta, C, ldc, dev.index);
#endif
    } else {
      cpu::sgemm(la.trans, lb.trans, M, N, K, alpha, A, la.ld, B, lb.ld, beta, C, ldc);
    }
    return;
  }
  const std::vector<int64_t> oa = batch_offsets(a, batch), ob = batch_offsets(b, batch);
  if (dev.is_cuda()) {
#ifdef VQ_WITH_CUDA
    cuda::sgemm_batched(la.trans, lb.trans, M, N, K, alpha, A, la.ld, oa.data(), B, lb.ld,
                        ob.data(), beta, C, ldc, M * N, batch, dev.index);
#endif
  } else {
    cpu::sgemm_batched(la.trans, lb.trans, M, N, K, alpha, A, la.ld, oa.data(), B, lb.ld,
                       ob.data(), beta, C, ldc, M * N, batch);
  }
}

// A tensor's shape, formatted only when a message is built.
struct ShapeText {
  const Tensor* t;
};
std::ostream& operator<<(std::ostream& os, const ShapeText& s) { return os << shape_str(s.t->shape()); }

// The shapes part of an error message, formatted only when a check fails:
// "<op>: shapes [2, 3] and [4, 5]" or, with c, "<op>: a=[2, 3]^T, b=[3, 4], c=[2, 4]".
struct ShapesMsg {
  const char* op;
  const Tensor* a;
  bool ta;
  const Tensor* b;
  bool tb;
  const Tensor* c = nullptr;
};

std::ostream& operator<<(std::ostream& os, const ShapesMsg& m) {
  const std::string a = shape_str(m.a->shape()) + (m.ta ? "^T" : "");
  const std::string b = shape_str(m.b->shape()) + (m.tb ? "^T" : "");
  if (m.c) return os << m.op << ": a=" << a << ", b=" << b << ", c=" << shape_str(m.c->shape());
  return os << m.op << ": shapes " << a << " and " << b;
}

void check_device_built(const char* op, const Tensor& t) {
#ifndef VQ_WITH_CUDA
  if (t.device().is_cuda())
    throw DeviceError(std::string(op) + ": this build has no CUDA support (" + t.str() + ")");
#endif
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_args("matmul", {&a, &b});
  detail::check_f32("matmul", "a", a);
  detail::check_f32("matmul", "b", b);
  check_device_built("matmul", a);
  const ShapesMsg shapes{"matmul", &a, false, &b, false};
  VQ_CHECK(ShapeError, a.dim() >= 1 && b.dim() >= 1, shapes, ": both operands need at least 1 dim");
  // torch.matmul: a 1-D a is a row vector [1, K], a 1-D b a column [K, 1]; those dims
  // are dropped from the result.
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t M = a2.size(-2), K = a2.size(-1), N = b2.size(-1);
  VQ_CHECK(ShapeError, b2.size(-2) == K, shapes, " cannot be multiplied (", K, " != ", b2.size(-2),
                    ")");
  const Shape ba(a2.shape().begin(), a2.shape().end() - 2);
  const Shape bb(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch(std::max(ba.size(), bb.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t da = i + ba.size() < batch.size() ? 1 : ba[i + ba.size() - batch.size()];
    const int64_t db = i + bb.size() < batch.size() ? 1 : bb[i + bb.size() - batch.size()];
    VQ_CHECK(ShapeError, da == db || da == 1 || db == 1, shapes,
                      ": batch dims cannot be broadcast together");
    batch[i] = da == 1 ? db : da;
  }
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, DType::f32, a.device());
  if (bb.empty() && !ba.empty()) {
    // [..., M, K] x [K, N]: fold the batch into the rows, one GEMM.
    const int64_t rows = shape_numel(ba) * M;
    const Tensor af = blas_ready(a2.reshape({rows, K}));
    Tensor of = out.view({rows, N});
    gemm_engine(af, blas_ready(b2), of, 1.f, 0.f);
  } else {
    Shape sa = batch, sb = batch;
    sa.insert(sa.end(), {M, K});
    sb.insert(sb.end(), {K, N});
    gemm_engine(blas_ready(a2).expand(sa), blas_ready(b2).expand(sb), out, 1.f, 0.f);
  }
  if (a.dim() == 1) out = out.squeeze(-2);
  if (b.dim() == 1) out = out.squeeze(-1);
  return out;
}

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
          float beta) {
  detail::check_args("gemm", {&a, &b, &c});
  detail::check_f32("gemm", "a", a);
  detail::check_f32("gemm", "b", b);
  detail::check_f32("gemm", "c", c);
  check_device_built("gemm", a);
  const ShapesMsg desc{"gemm", &a, trans_a, &b, trans_b, &c};
  VQ_CHECK(ShapeError, a.dim() == 2 && b.dim() == 2 && c.dim() == 2, desc,
                    ": all three must be 2-D");
  const Tensor oa = trans_a ? a.t() : a;
  const Tensor ob = trans_b ? b.t() : b;
  VQ_CHECK(ShapeError, oa.size(1) == ob.size(0) && c.size(0) == oa.size(0) && c.size(1) == ob.size(1),
                    desc, ": op(a) is ", ShapeText{&oa}, ", op(b) is ", ShapeText{&ob},
                    ", c must be [", oa.size(0), ", ", ob.size(1), "]");
  VQ_CHECK(ShapeError, c.is_contiguous(), desc, ": c must be contiguous");
  VQ_CHECK(ShapeError, !c.same_storage(a) && !c.same_storage(b), desc,
                    ": c must not share memory with a or b");
  gemm_engine(blas_ready(oa), blas_ready(ob), c, alpha, beta);
  c.bump_version();
}

Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  detail::check_args("bmm", {&a, &b});
  detail::check_f32("bmm", "a", a);
  detail::check_f32("bmm", "b", b);
  check_device_built("bmm", a);
  const ShapesMsg desc{"bmm", &a, trans_a, &b, trans_b};
  VQ_CHECK(ShapeError, a.dim() == 3 && b.dim() == 3, desc, ": both must be 3-D [B, rows, cols]");
  const Tensor oa = trans_a ? a.transpose(1, 2) : a;
  const Tensor ob = trans_b ? b.transpose(1, 2) : b;
  VQ_CHECK(ShapeError, oa.size(0) == ob.size(0), desc, ": batch sizes differ");
  VQ_CHECK(ShapeError, oa.size(2) == ob.size(1), desc, " cannot be multiplied (", oa.size(2),
                    " != ", ob.size(1), ")");
  Tensor out = Tensor::empty({oa.size(0), oa.size(1), ob.size(2)}, DType::f32, a.device());
  gemm_engine(blas_ready(oa), blas_ready(ob), out, 1.f, 0.f);
  return out;
}

}  // namespace vq::ops
