// Tensor-level vector-quantization ops (see ops_vq.h): validation, output allocation and
// dispatch to the raw CPU kernels (kernels/cpu/{nearest_code,code_stats,rotation}.h) or
// the CUDA launchers (kernels/cuda/..., only when built with VQ_WITH_CUDA).
#include "kernels/ops_vq.h"

#include <algorithm>
#include <climits>
#include <string>

#include "kernels/cpu/code_stats.h"
#include "kernels/cpu/nearest_code.h"
#include "kernels/cpu/rotation.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/code_stats.h"
#include "kernels/cuda/nearest_code.h"
#include "kernels/cuda/rotation.h"
#endif

namespace vq::ops {
namespace {

// "f32[4, 8]" (dtype and shape), or "f32[4, 8] cuda:0" with the device.
std::string desc(const Tensor& t) { return std::string(dtype_name(t.dtype())) + shape_str(t.shape()); }

void check_defined(const char* op, const char* what, const Tensor& t) {
  VQ_CHECK(Error, t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_same_dev(const char* op, const char* a, const Tensor& ta, const char* b,
                    const Tensor& tb) {
  VQ_CHECK(DeviceError, ta.device() == tb.device(), op, ": ", a, " and ", b,
                     " must be on one device, got ", a, "=", ta.str(), " and ", b, "=", tb.str());
}

void check_dtype_is(const char* op, const char* what, const Tensor& t, DType want) {
  VQ_CHECK(DTypeError, t.dtype() == want, op, ": ", what, " must be ", dtype_name(want), ", got ",
                    what, "=", desc(t));
}

[[noreturn, maybe_unused]] void no_cuda(const char* op, const Tensor& t) {
  throw DeviceError(str_cat(op, ": ", t.str(), " is a CUDA tensor but vqcpp was built without CUDA"));
}

// Resolved nearest-code problem: sizes, head strides and the output prefix shape.
struct NcProblem {
  int64_t H = 1, N = 0, K = 0, D = 0, x_hs = 0, c_hs = 0;
  bool batched = false;
  Shape out_prefix() const { return batched ? Shape{H, N} : Shape{N}; }
};

NcProblem resolve_nc(const char* op, const Tensor& x, const Tensor& codes) {
  check_defined(op, "x", x);
  check_defined(op, "codes", codes);
  check_same_dev(op, "x", x, "codes", codes);
  check_dtype_is(op, "x", x, DType::f32);
  check_dtype_is(op, "codes", codes, DType::f32);
  VQ_CHECK(ShapeError, x.dim() == 2 || x.dim() == 3, op,
                    ": x must be [N, D] or [H, N, D], got x=", desc(x));
  VQ_CHECK(ShapeError, codes.dim() == 2 || codes.dim() == 3, op,
                    ": codes must be [K, D] or [H, K, D], got codes=", desc(codes));
  VQ_CHECK(ShapeError, x.size(-1) == codes.size(-1), op,
                    ": x=[N, D] and codes=[K, D] must share D, got x=", desc(x),
                    " and codes=", desc(codes));
  NcProblem p;
  p.N = x.size(-2);
  p.K = codes.size(-2);
  p.D = x.size(-1);
  VQ_CHECK(ShapeError, p.K >= 1, op, ": codes must hold at least one code, got codes=", desc(codes));
  VQ_CHECK(ShapeError, p.K < INT_MAX && p.D < INT_MAX, op,
                    ": K and D must be below 2^31, got codes=", desc(codes));
  const int64_t hx = x.dim() == 3 ? x.size(0) : 1;
  const int64_t hc = codes.dim() == 3 ? codes.size(0) : 1;
  VQ_CHECK(ShapeError, hx == hc || hx == 1 || hc == 1, op,
                    ": heads of x=[H, N, D] and codes=[H, K, D] must match (or one be 1), got x=",
                    desc(x), " and codes=", desc(codes));
  p.H = std::max(hx, hc);
  p.x_hs = hx == 1 ? 0 : p.N * p.D;
  p.c_hs = hc == 1 ? 0 : p.K * p.D;
  p.batched = x.dim() == 3 || codes.dim() == 3;
  return p;
}

cpu::NcShape cpu_shape(const NcProblem& p) {
  cpu::NcShape s;
  s.H = p.H;
  s.N = p.N;
  s.K = p.K;
  s.D = p.D;
  s.x_head_stride = p.x_hs;
  s.codes_head_stride = p.c_hs;
  return s;
}

}  // namespace

NearestCode nearest_code(const Tensor& x, const Tensor& codes, VqMetric metric) {
  const char* op = "nearest_code";
  const NcProblem p = resolve_nc(op, x, codes);
  const Tensor xc = x.contiguous(), cc = codes.contiguous();
  NearestCode r{Tensor::empty(p.out_prefix(), DType::i64, x.device()),
                Tensor::empty(p.out_prefix(), DType::f32, x.device())};
  const bool ip = metric == VqMetric::inner_product;
  if (x.device().is_cpu()) {
    cpu::nearest_code(r.indices.data<int64_t>(), r.scores.data<float>(), xc.data<float>(),
                      cc.data<float>(), cpu_shape(p), ip);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::nearest_code(r.indices.data<int64_t>(), r.scores.data<float>(), xc.data<float>(),
                       cc.data<float>(), p.H, p.N, p.K, p.D, p.x_hs, p.c_hs, ip,
                       x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return r;
}

NearestCode nearest_code_topk(const Tensor& x, const Tensor& codes, int64_t k, VqMetric metric) {
  const char* op = "nearest_code_topk";
  const NcProblem p = resolve_nc(op, x, codes);
  VQ_CHECK(ShapeError, k >= 1 && k <= std::min<int64_t>(p.K, 32), op,
                    ": k must lie in [1, min(K, 32)], got k=", k, " with codes=", desc(codes));
  const Tensor xc = x.contiguous(), cc = codes.contiguous();
  Shape shape = p.out_prefix();
  shape.push_back(k);
  NearestCode r{Tensor::empty(shape, DType::i64, x.device()),
                Tensor::empty(shape, DType::f32, x.device())};
  const bool ip = metric == VqMetric::inner_product;
  if (x.device().is_cpu()) {
    cpu::nearest_code_topk(r.indices.data<int64_t>(), r.scores.data<float>(), xc.data<float>(),
                           cc.data<float>(), cpu_shape(p), k, ip);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::nearest_code_topk(r.indices.data<int64_t>(), r.scores.data<float>(), xc.data<float>(),
                            cc.data<float>(), p.H, p.N, p.K, p.D, p.x_hs, p.c_hs, k, ip,
                            x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return r;
}

Tensor code_similarity(const Tensor& x, const Tensor& codes, VqMetric metric) {
  const char* op = "code_similarity";
  const NcProblem p = resolve_nc(op, x, codes);
  const Tensor xc = x.contiguous(), cc = codes.contiguous();
  Shape shape = p.out_prefix();
  shape.push_back(p.K);
  Tensor out = Tensor::empty(shape, DType::f32, x.device());
  const bool ip = metric == VqMetric::inner_product;
  if (x.device().is_cpu()) {
    cpu::code_similarity(out.data<float>(), xc.data<float>(), cc.data<float>(), cpu_shape(p), ip);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::code_similarity(out.data<float>(), xc.data<float>(), cc.data<float>(), p.H, p.N, p.K,
                          p.D, p.x_hs, p.c_hs, ip, x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return out;
}

CodeStats code_stats(const Tensor& indices, const Tensor& x, int64_t num_codes,
                     const std::optional<Tensor>& weights, const std::optional<Tensor>& mask) {
  const char* op = "code_stats";
  check_defined(op, "indices", indices);
  check_defined(op, "x", x);
  check_same_dev(op, "indices", indices, "x", x);
  check_dtype_is(op, "indices", indices, DType::i64);
  check_dtype_is(op, "x", x, DType::f32);
  VQ_CHECK(ShapeError, indices.dim() == 1 || indices.dim() == 2, op,
                    ": indices must be [N] or [H, N], got indices=", desc(indices));
  const bool batched = indices.dim() == 2;
  const int64_t H = batched ? indices.size(0) : 1, N = indices.size(-1);
  const bool x_ok = x.dim() == 2 ? x.size(0) == N
                                 : (batched && x.dim() == 3 && x.size(0) == H && x.size(1) == N);
  VQ_CHECK(ShapeError, x_ok, op,
                    ": x must be [N, D] (or [H, N, D] for indices [H, N]) matching indices, got "
                    "indices=", desc(indices), " and x=", desc(x));
  VQ_CHECK(ShapeError, num_codes >= 1, op, ": num_codes must be >= 1, got ", num_codes);
  const int64_t D = x.size(-1);
  auto check_rowwise = [&](const char* what, const Tensor& t) {
    check_defined(op, what, t);
    check_same_dev(op, "indices", indices, what, t);
    VQ_CHECK(ShapeError, t.shape() == Shape{N} || t.shape() == indices.shape(), op, ": ", what,
                      " must be [N] or shaped like indices, got indices=", desc(indices), " and ",
                      what, "=", desc(t));
  };
  Tensor wc, mc;
  if (weights) {
    check_rowwise("weights", *weights);
    check_dtype_is(op, "weights", *weights, DType::f32);
    wc = weights->contiguous();
  }
  if (mask) {
    check_rowwise("mask", *mask);
    VQ_CHECK(DTypeError, mask->dtype() == DType::boolean || mask->dtype() == DType::u8, op,
                      ": mask must be bool or u8, got mask=", desc(*mask));
    mc = mask->contiguous();
  }
  const Tensor ic = indices.contiguous(), xc = x.contiguous();
  const int64_t idx_hs = N, x_hs = x.dim() == 3 ? N * D : 0;
  const int64_t w_hs = weights && wc.dim() == 2 ? N : 0;
  const int64_t m_hs = mask && mc.dim() == 2 ? N : 0;
  const float* wp = weights ? wc.data<float>() : nullptr;
  const uint8_t* mp = mask ? static_cast<const uint8_t*>(mc.raw_data()) : nullptr;
  Shape cshape = batched ? Shape{H, num_codes} : Shape{num_codes};
  Shape sshape = cshape;
  sshape.push_back(D);
  CodeStats r{Tensor::empty(cshape, DType::f32, x.device()),
              Tensor::empty(sshape, DType::f32, x.device())};
  if (x.device().is_cpu()) {
    const int64_t* ip = ic.data<int64_t>();
    for (int64_t h = 0; h < H; ++h)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t k = ip[h * idx_hs + n];
        if ((k < 0 || k >= num_codes) && (!mp || mp[h * m_hs + n]))
          throw Error(str_cat(op, ": index ", k, " at position ",
                              batched ? shape_str({h, n}) : shape_str({n}),
                              " is out of range for num_codes=", num_codes, " (indices=",
                              desc(indices), ")"));
      }
    cpu::CsShape s;
    s.H = H;
    s.N = N;
    s.K = num_codes;
    s.D = D;
    s.idx_head_stride = idx_hs;
    s.x_head_stride = x_hs;
    s.weight_head_stride = w_hs;
    s.mask_head_stride = m_hs;
    cpu::code_stats(r.counts.data<float>(), r.sums.data<float>(), ip, xc.data<float>(), wp, mp, s);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::code_stats(r.counts.data<float>(), r.sums.data<float>(), ic.data<int64_t>(),
                     xc.data<float>(), wp, mp, H, N, num_codes, D, idx_hs, x_hs, w_hs, m_hs,
                     x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return r;
}

namespace {

// Validates same-shape f32 [..., D] operands of the rotation trick; returns (N, D).
std::pair<int64_t, int64_t> rotation_dims(const char* op,
                                          std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  const Tensor* first = nullptr;
  const char* first_name = nullptr;
  for (const auto& [name, t] : ts) {
    check_defined(op, name, *t);
    if (!first) {
      first = t;
      first_name = name;
      VQ_CHECK(ShapeError, t->dim() >= 1, op, ": ", name, " must be [..., D], got ", name, "=", desc(*t));
    } else {
      check_same_dev(op, first_name, *first, name, *t);
      VQ_CHECK(ShapeError, t->shape() == first->shape(), op, ": ", first_name, " and ", name,
                        " must have one shape, got ", first_name, "=", desc(*first), " and ", name,
                        "=", desc(*t));
    }
    check_dtype_is(op, name, *t, DType::f32);
  }
  const int64_t D = first->size(-1);
  return {D == 0 ? 0 : first->numel() / D, D};
}

}  // namespace

Tensor rotation_trick(const Tensor& x, const Tensor& q) {
  const char* op = "rotation_trick";
  const auto [N, D] = rotation_dims(op, {{"x", &x}, {"q", &q}});
  const Tensor xc = x.contiguous(), qc = q.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::f32, x.device());
  if (N == 0 || D == 0) return out;
  if (x.device().is_cpu()) {
    cpu::rotation_trick_forward(out.data<float>(), xc.data<float>(), qc.data<float>(), N, D);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::rotation_trick_forward(out.data<float>(), xc.data<float>(), qc.data<float>(), N, D,
                                 x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return out;
}

Tensor rotation_trick_backward(const Tensor& grad_out, const Tensor& x, const Tensor& q) {
  const char* op = "rotation_trick_backward";
  const auto [N, D] = rotation_dims(op, {{"grad_out", &grad_out}, {"x", &x}, {"q", &q}});
  const Tensor gc = grad_out.contiguous(), xc = x.contiguous(), qc = q.contiguous();
  Tensor dx = Tensor::empty(x.shape(), DType::f32, x.device());
  if (N == 0 || D == 0) return dx;
  if (x.device().is_cpu()) {
    cpu::rotation_trick_backward(dx.data<float>(), gc.data<float>(), xc.data<float>(),
                                 qc.data<float>(), N, D);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::rotation_trick_backward(dx.data<float>(), gc.data<float>(), xc.data<float>(),
                                  qc.data<float>(), N, D, x.device().index);
#else
    no_cuda(op, x);
#endif
  }
  return dx;
}

}  // namespace vq::ops
