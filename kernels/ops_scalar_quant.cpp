// Tensor-level FSQ ops and the soft clamp (see ops_scalar_quant.h): validation, output
// allocation, dispatch to kernels/cpu/fsq or kernels/cuda/fsq. The LFQ ops are in
// ops_scalar_quant_lfq.cpp.
#include "kernels/ops_scalar_quant.h"

#include "kernels/cpu/fsq.h"
#include "kernels/ops_scalar_quant_detail.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/fsq.h"
#endif

namespace vq::ops {

using namespace sq_detail;

namespace {

// The checked input and fresh output of a per-index FSQ op: indices (...) i64 ->
// (..., len(levels)) of `dtype` on the indices' device.
struct FsqIndexOp {
  cpu::FsqTables t;
  Tensor ic;   // indices, contiguous
  Tensor out;  // (..., c), uninitialized
  int64_t M;   // number of indices
};

FsqIndexOp fsq_index_op(const char* op, const Tensor& indices, const FsqSpec& spec, DType dtype) {
  detail::check_args(op, {&indices});
  detail::check_index(op, "indices", indices);
  FsqIndexOp a{fsq_tables(spec, true), indices.contiguous(), Tensor(), indices.numel()};
  Shape s = indices.shape();
  s.push_back(a.t.c);
  a.out = Tensor::empty(s, dtype, indices.device());
  return a;
}

}  // namespace

// ---------------- FSQ ----------------

int64_t fsq_codebook_size(const FsqSpec& spec) {
  const cpu::FsqTables t = fsq_tables(spec, true);
  return t.basis[t.c - 1] * t.levels[t.c - 1];
}

FsqOutput fsq_forward(const Tensor& z, const FsqSpec& spec, int64_t num_codebooks,
                      bool with_indices, const FsqNoiseSpec& noise) {
  const char* op = "fsq_forward";
  detail::check_args(op, {&z});
  detail::check_f32(op, "z", z);
  VQ_CHECK(ConfigError, num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  VQ_CHECK(ConfigError, noise.prob >= 0.0 && noise.prob <= 1.0, op,
                     ": noise_dropout must be in [0, 1], got ", noise.prob);
  VQ_CHECK(ConfigError, noise.prob == 0.0 || spec.preserve_symmetry, op,
                     ": noise_dropout > 0 needs preserve_symmetry=True");
  const cpu::FsqTables t = fsq_tables(spec, with_indices);
  const int64_t W = num_codebooks * t.c;
  const int64_t N = rows_of(op, "z", z, W, "num_codebooks * len(levels)");
  const Tensor zc = z.contiguous();
  FsqOutput out;
  out.codes = Tensor::empty(z.shape(), DType::f32, z.device());
  int64_t* idx = nullptr;
  if (with_indices) {
    Shape s = z.shape();
    s.back() = num_codebooks;
    out.indices = Tensor::empty(s, DType::i64, z.device());
    idx = out.indices.data<int64_t>();
  }
  const cpu::FsqNoise nz{static_cast<float>(noise.prob), noise.seed, noise.offset};
  if (z.device().is_cpu()) {
    cpu::fsq_forward(out.codes.data<float>(), idx, zc.data<float>(), N, num_codebooks, t,
                     spec.exact, nz);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_forward(out.codes.data<float>(), idx, zc.data<float>(), N, num_codebooks, t,
                      spec.exact, nz, z.device().index);
#else
    no_cuda(op);
#endif
  }
  return out;
}

Tensor fsq_backward(const Tensor& grad_codes, const Tensor& z, const FsqSpec& spec,
                    int64_t num_codebooks, const FsqNoiseSpec& noise) {
  const char* op = "fsq_backward";
  detail::check_args(op, {&grad_codes, &z});
  detail::check_f32(op, "grad_codes", grad_codes);
  detail::check_f32(op, "z", z);
  VQ_CHECK(ShapeError, grad_codes.shape() == z.shape(), op, ": grad_codes and z must have one shape, got ",
                    detail::describe({{"grad_codes", &grad_codes}, {"z", &z}}));
  VQ_CHECK(ConfigError, num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  const cpu::FsqTables t = fsq_tables(spec, false);
  const int64_t W = num_codebooks * t.c;
  const int64_t N = rows_of(op, "z", z, W, "num_codebooks * len(levels)");
  const Tensor zc = z.contiguous(), gc = grad_codes.contiguous();
  Tensor dz = Tensor::empty(z.shape(), DType::f32, z.device());
  const cpu::FsqNoise nz{static_cast<float>(noise.prob), noise.seed, noise.offset};
  if (z.device().is_cpu()) {
    cpu::fsq_backward(dz.data<float>(), gc.data<float>(), zc.data<float>(), N, num_codebooks, t,
                      spec.exact, nz);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_backward(dz.data<float>(), gc.data<float>(), zc.data<float>(), N, num_codebooks, t,
                       spec.exact, nz, z.device().index);
#else
    no_cuda(op);
#endif
  }
  return dz;
}

Tensor fsq_indices_to_codes(const Tensor& indices, const FsqSpec& spec) {
  const char* op = "fsq_indices_to_codes";
  const FsqIndexOp a = fsq_index_op(op, indices, spec, DType::f32);
  if (indices.device().is_cpu()) {
    cpu::fsq_indices_to_codes(a.out.data<float>(), a.ic.data<int64_t>(), a.M, a.t);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_indices_to_codes(a.out.data<float>(), a.ic.data<int64_t>(), a.M, a.t,
                               indices.device().index);
#else
    no_cuda(op);
#endif
  }
  return a.out;
}

Tensor fsq_codes_to_indices(const Tensor& codes, const FsqSpec& spec) {
  const char* op = "fsq_codes_to_indices";
  detail::check_args(op, {&codes});
  detail::check_f32(op, "codes", codes);
  const cpu::FsqTables t = fsq_tables(spec, true);
  const int64_t M = rows_of(op, "codes", codes, t.c, "len(levels)");
  const Tensor cc = codes.contiguous();
  Shape s = codes.shape();
  s.pop_back();
  Tensor idx = Tensor::empty(s, DType::i64, codes.device());
  if (codes.device().is_cpu()) {
    cpu::fsq_codes_to_indices(idx.data<int64_t>(), cc.data<float>(), M, t);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_codes_to_indices(idx.data<int64_t>(), cc.data<float>(), M, t, codes.device().index);
#else
    no_cuda(op);
#endif
  }
  return idx;
}

Tensor fsq_indices_to_level_indices(const Tensor& indices, const FsqSpec& spec) {
  const char* op = "fsq_indices_to_level_indices";
  const FsqIndexOp a = fsq_index_op(op, indices, spec, DType::i64);
  if (indices.device().is_cpu()) {
    cpu::fsq_indices_to_levels(a.out.data<int64_t>(), a.ic.data<int64_t>(), a.M, a.t);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_indices_to_levels(a.out.data<int64_t>(), a.ic.data<int64_t>(), a.M, a.t,
                                indices.device().index);
#else
    no_cuda(op);
#endif
  }
  return a.out;
}

namespace {
void check_soft_values(const char* op, const Tensor& x, const std::vector<float>& values) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  VQ_CHECK(ShapeError, x.dim() >= 1, op, ": x must have at least one dim, got ", x.str());
  const int64_t D = x.size(-1);
  VQ_CHECK(ConfigError, values.size() == 1 ||
                         (static_cast<int64_t>(values.size()) == D && D <= cpu::kFsqMaxDim),
                     op, ": need 1 value or one per last-dim entry (<= ", cpu::kFsqMaxDim,
                     "), got ", values.size(), " values for x=", x.str());
  for (float v : values)
    VQ_CHECK(ConfigError, v > 0.f, op, ": soft clamp values must be > 0, got ", v);
}
}  // namespace

Tensor soft_clamp(const Tensor& x, const std::vector<float>& values, bool exact) {
  const char* op = "soft_clamp";
  check_soft_values(op, x, values);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::f32, x.device());
  const int64_t D = x.size(-1), N = D > 0 ? x.numel() / D : 0;
  if (x.device().is_cpu()) {
    cpu::fsq_soft_clamp(y.data<float>(), xc.data<float>(), N, D, values.data(),
                        static_cast<int64_t>(values.size()), exact);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_soft_clamp(y.data<float>(), xc.data<float>(), N, D, values, exact,
                         x.device().index);
#else
    no_cuda(op);
#endif
  }
  return y;
}

Tensor soft_clamp_backward(const Tensor& grad, const Tensor& x, const std::vector<float>& values,
                           bool exact) {
  const char* op = "soft_clamp_backward";
  check_soft_values(op, x, values);
  detail::check_args(op, {&grad, &x});
  detail::check_f32(op, "grad", grad);
  VQ_CHECK(ShapeError, grad.shape() == x.shape(), op, ": grad and x must have one shape, got ",
                    detail::describe({{"grad", &grad}, {"x", &x}}));
  const Tensor xc = x.contiguous(), gc = grad.contiguous();
  Tensor dx = Tensor::empty(x.shape(), DType::f32, x.device());
  const int64_t D = x.size(-1), N = D > 0 ? x.numel() / D : 0;
  if (x.device().is_cpu()) {
    cpu::fsq_soft_clamp_backward(dx.data<float>(), gc.data<float>(), xc.data<float>(), N, D,
                                 values.data(), static_cast<int64_t>(values.size()), exact);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_soft_clamp_backward(dx.data<float>(), gc.data<float>(), xc.data<float>(), N, D,
                                  values, exact, x.device().index);
#else
    no_cuda(op);
#endif
  }
  return dx;
}

}  // namespace vq::ops
