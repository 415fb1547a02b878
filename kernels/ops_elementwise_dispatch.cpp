// Shared validation, broadcast layout and CPU/CUDA dispatch of the elementwise ops
// (see kernels/ops_elementwise_impl.h).
#include <cmath>
#include <string>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/elementwise_layout.h"
#include "kernels/ops_check.h"
#include "kernels/ops_elementwise_impl.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace vq::ops::detail {

namespace {

using NamedTensors = std::initializer_list<std::pair<const char*, const Tensor*>>;

bool dtype_allowed(DType t, EwDTypes allowed) {
  switch (allowed) {
    case EwDTypes::f32: return t == DType::f32;
    case EwDTypes::f32_i64: return t == DType::f32 || t == DType::i64;
    case EwDTypes::numeric:
      return t == DType::f32 || t == DType::f64 || t == DType::i64 || t == DType::i32 ||
             t == DType::u8 || t == DType::boolean;
  }
  return false;
}

const char* allowed_str(EwDTypes allowed) {
  switch (allowed) {
    case EwDTypes::f32: return "f32";
    case EwDTypes::f32_i64: return "f32 or i64";
    case EwDTypes::numeric: return "f32, f64, i64, i32, u8 or bool";
  }
  return "?";
}

cpu::EwLayout layout(const char* op, const Tensor& out, std::initializer_list<const Tensor*> ins) {
  std::vector<cpu::EwOperand> ops;
  ops.push_back({&out.shape(), &out.strides()});
  for (const Tensor* t : ins) ops.push_back({&t->shape(), &t->strides()});
  return cpu::make_layout(op, ops);
}

#ifndef VQ_WITH_CUDA
[[noreturn]] void no_cuda(const char* op) {
  throw DeviceError(str_cat(op, ": this build of vqcpp has no CUDA support"));
}
#endif

}  // namespace

void ew_check(const char* op, NamedTensors ts, EwDTypes allowed) {
  const Tensor* first = nullptr;
  for (const auto& kv : ts) {
    check(kv.second->defined(), op, ": ", kv.first, " is an undefined tensor");
    if (!first) first = kv.second;
    VQ_CHECK(DeviceError, kv.second->device() == first->device(), op,
                       ": tensors on different devices: ", describe(ts));
    VQ_CHECK(DTypeError, kv.second->dtype() == first->dtype(), op, ": dtype mismatch: ",
                      describe(ts));
  }
  VQ_CHECK(DTypeError, first && dtype_allowed(first->dtype(), allowed), op, ": expected ",
                    allowed_str(allowed), " tensors, got ", describe(ts));
}

Shape ew_broadcast(const char* op, NamedTensors ts) {
  if (ts.size() == 2) return broadcast_shapes(ts.begin()[0].second->shape(),
                                              ts.begin()[1].second->shape(), op);
  Shape s;
  try {
    for (const auto& kv : ts) s = broadcast_shapes(s, kv.second->shape(), op);
  } catch (const ShapeError&) {
    std::string all;
    for (const auto& kv : ts) {
      if (!all.empty()) all += ", ";
      all += std::string(kv.first) + "=" + shape_str(kv.second->shape());
    }
    throw ShapeError(str_cat(op, ": shapes ", all, " cannot be broadcast together"));
  }
  return s;
}

void ew_check_inplace(const char* op, const Tensor& dst, const Tensor* src) {
  for (int64_t d = 0; d < dst.dim(); ++d)
    VQ_CHECK(ShapeError, dst.stride(d) != 0 || dst.size(d) <= 1, op, ": dst ", dst.str(),
                      " is an expanded view (stride 0 in dim ", d, "); cannot write in place");
  if (!src) return;
  Shape s = broadcast_shapes(dst.shape(), src->shape(), op);
  VQ_CHECK(ShapeError, s == dst.shape(), op, ": src ", shape_str(src->shape()),
                    " cannot be broadcast to dst ", shape_str(dst.shape()));
}

void ew_check_int_scalar(const char* op, const Tensor& t, double s) {
  if (is_floating(t.dtype())) return;
  const bool integral = std::isfinite(s) && std::trunc(s) == s && std::fabs(s) < 9.2e18;
  VQ_CHECK(DTypeError, integral, op, ": scalar ", s,
                    " is not an integer but the tensor is ", t.str(),
                    " (convert it with to(DType::f32) first)");
}

void ew_unary(const char* op, const Tensor& out, const Tensor& x, cpu::UnaryOp code,
              const cpu::EwParams& p) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&x});
  if (out.device().is_cpu()) return cpu::unary_forward(out.raw_data(), x.raw_data(), l,
                                                       out.dtype(), code, p);
#ifdef VQ_WITH_CUDA
  cuda::unary_forward(out.raw_data(), x.raw_data(), l, out.dtype(), code, p, out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_binary(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
               cpu::BinaryOp code, const cpu::EwParams& p) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&a, &b});
  if (out.device().is_cpu())
    return cpu::binary_forward(out.raw_data(), a.raw_data(), b.raw_data(), l, out.dtype(), code,
                               p);
#ifdef VQ_WITH_CUDA
  cuda::binary_forward(out.raw_data(), a.raw_data(), b.raw_data(), l, out.dtype(), code, p,
                       out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_lerp(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
             const Tensor& w) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&a, &b, &w});
  if (out.device().is_cpu())
    return cpu::lerp_forward(out.data<float>(), a.data<float>(), b.data<float>(), w.data<float>(), l);
#ifdef VQ_WITH_CUDA
  cuda::lerp_forward(out.data<float>(), a.data<float>(), b.data<float>(), w.data<float>(), l,
                     out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_compare(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
                cpu::CmpOp code) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&a, &b});
  auto* o = static_cast<uint8_t*>(out.raw_data());
  if (out.device().is_cpu())
    return cpu::compare_forward(o, a.raw_data(), b.raw_data(), l, a.dtype(), code);
#ifdef VQ_WITH_CUDA
  cuda::compare_forward(o, a.raw_data(), b.raw_data(), l, a.dtype(), code, out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_compare_scalar(const char* op, const Tensor& out, const Tensor& a, double s,
                       cpu::CmpOp code) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&a});
  auto* o = static_cast<uint8_t*>(out.raw_data());
  if (out.device().is_cpu())
    return cpu::compare_scalar_forward(o, a.raw_data(), s, l, a.dtype(), code);
#ifdef VQ_WITH_CUDA
  cuda::compare_scalar_forward(o, a.raw_data(), s, l, a.dtype(), code, out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_logical(const char* op, const Tensor& out, const Tensor& a, const Tensor& b,
                cpu::LogicOp code) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&a, &b});
  auto* o = static_cast<uint8_t*>(out.raw_data());
  if (out.device().is_cpu())
    return cpu::logical_forward(o, a.raw_data(), b.raw_data(), l, a.dtype(), code);
#ifdef VQ_WITH_CUDA
  cuda::logical_forward(o, a.raw_data(), b.raw_data(), l, a.dtype(), code, out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_logical_not(const char* op, const Tensor& out, const Tensor& x) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&x});
  auto* o = static_cast<uint8_t*>(out.raw_data());
  if (out.device().is_cpu()) return cpu::logical_not_forward(o, x.raw_data(), l, x.dtype());
#ifdef VQ_WITH_CUDA
  cuda::logical_not_forward(o, x.raw_data(), l, x.dtype(), out.device().index);
#else
  no_cuda(op);
#endif
}

void ew_where(const char* op, const Tensor& out, const Tensor& cond, const Tensor& a,
              const Tensor& b) {
  if (out.numel() == 0) return;
  cpu::EwLayout l = layout(op, out, {&cond, &a, &b});
  const auto* c = static_cast<const uint8_t*>(cond.raw_data());
  const size_t es = dtype_size(out.dtype());
  if (out.device().is_cpu())
    return cpu::where_forward(out.raw_data(), c, a.raw_data(), b.raw_data(), l, es);
#ifdef VQ_WITH_CUDA
  cuda::where_forward(out.raw_data(), c, a.raw_data(), b.raw_data(), l, es, out.device().index);
#else
  no_cuda(op);
#endif
}

}  // namespace vq::ops::detail
