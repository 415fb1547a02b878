// Tensor-level FSQ / LFQ ops (see ops_scalar_quant.h): validation, output allocation,
// dispatch to kernels/cpu/{fsq,lfq,lfq_entropy} or kernels/cuda/{fsq,lfq}.
#include "kernels/ops_scalar_quant.h"

#include <cmath>

#include "kernels/cpu/fsq.h"
#include "kernels/cpu/lfq.h"
#include "kernels/cpu/lfq_entropy.h"
#include "kernels/ops_check.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/fsq.h"
#include "kernels/cuda/lfq.h"
#endif

namespace vq::ops {
namespace {

#ifndef VQ_WITH_CUDA
[[noreturn]] void no_cuda(const char* op) {
  throw DeviceError(str_cat(op, ": CUDA tensors need a build with VQ_WITH_CUDA"));
}
#endif

cpu::FsqTables fsq_tables(const FsqSpec& s, bool need_indices) {
  return cpu::fsq_make_tables(s.levels, s.preserve_symmetry, s.bound_hard_clamp, s.pre_div,
                              s.post_mul, need_indices);
}

cpu::LfqParams lfq_params(const char* op, const LfqSpec& s) {
  check<ConfigError>(s.codebook_dim >= 1 && s.codebook_dim <= cpu::kLfqMaxBits, op,
                     ": codebook_dim (log2 codebook_size) must be in [1, ", cpu::kLfqMaxBits,
                     "], got ", s.codebook_dim);
  check<ConfigError>(s.codebook_scale > 0.0, op, ": codebook_scale must be > 0, got ",
                     s.codebook_scale);
  check<ConfigError>(s.soft_clamp_input_value >= 0.0, op,
                     ": soft_clamp_input_value must be > 0 (or 0 for none), got ",
                     s.soft_clamp_input_value);
  cpu::LfqParams p;
  p.c = static_cast<int32_t>(s.codebook_dim);
  p.scale = static_cast<float>(s.codebook_scale);
  p.spherical = s.spherical;
  p.soft_clamp = static_cast<float>(s.soft_clamp_input_value);
  p.exact_tanh = s.exact_tanh;
  return p;
}

// Rows of an [..., W] tensor, checking the last dim.
int64_t rows_of(const char* op, const char* what, const Tensor& t, int64_t W, const char* expect) {
  check<ShapeError>(t.dim() >= 1 && t.size(-1) == W, op, ": ", what, " last dim must be ", expect,
                    " = ", W, ", got ", what, "=", t.str());
  return t.numel() / W;
}

// u8 row mask with `rows` entries (accepts bool or u8), contiguous; undefined stays so.
Tensor row_mask_u8(const char* op, const Tensor& mask, int64_t rows, Device dev) {
  if (!mask.defined()) return mask;
  check<DTypeError>(mask.dtype() == DType::boolean || mask.dtype() == DType::u8, op,
                    ": row_mask must be bool or u8, got ", mask.str());
  check<ShapeError>(mask.numel() == rows, op, ": row_mask must have one entry per row (", rows,
                    "), got row_mask=", mask.str());
  check<DeviceError>(mask.device() == dev, op, ": row_mask on ", mask.device().str(),
                     ", values on ", dev.str());
  return mask.contiguous();
}

const uint8_t* mask_ptr(const Tensor& m) {
  if (!m.defined()) return nullptr;
  return static_cast<const uint8_t*>(m.raw_data());
}

int64_t count_rows_cpu(const Tensor& m, int64_t rows) {
  if (!m.defined()) return rows;
  const uint8_t* p = mask_ptr(m);
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) n += p[r] != 0;
  return n;
}

// Scalar f32 gradient on `dev` (or undefined).
void check_scalar(const char* op, const char* what, const Tensor& g, Device dev) {
  if (!g.defined()) return;
  check<ShapeError>(g.numel() == 1, op, ": ", what, " must be a scalar, got ", g.str());
  detail::check_f32(op, what, g);
  check<DeviceError>(g.device() == dev, op, ": ", what, " on ", g.device().str(), ", values on ",
                     dev.str());
}

float cpu_scalar(const Tensor& g) { return g.defined() ? g.contiguous().data<float>()[0] : 0.f; }

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
  check<ConfigError>(num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  check<ConfigError>(noise.prob >= 0.0 && noise.prob <= 1.0, op,
                     ": noise_dropout must be in [0, 1], got ", noise.prob);
  check<ConfigError>(noise.prob == 0.0 || spec.preserve_symmetry, op,
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
  check<ShapeError>(grad_codes.shape() == z.shape(), op, ": grad_codes and z must have one shape, got ",
                    detail::describe({{"grad_codes", &grad_codes}, {"z", &z}}));
  check<ConfigError>(num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
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
  detail::check_args(op, {&indices});
  detail::check_index(op, "indices", indices);
  const cpu::FsqTables t = fsq_tables(spec, true);
  const Tensor ic = indices.contiguous();
  Shape s = indices.shape();
  s.push_back(t.c);
  Tensor codes = Tensor::empty(s, DType::f32, indices.device());
  const int64_t M = indices.numel();
  if (indices.device().is_cpu()) {
    cpu::fsq_indices_to_codes(codes.data<float>(), ic.data<int64_t>(), M, t);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_indices_to_codes(codes.data<float>(), ic.data<int64_t>(), M, t,
                               indices.device().index);
#else
    no_cuda(op);
#endif
  }
  return codes;
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
  detail::check_args(op, {&indices});
  detail::check_index(op, "indices", indices);
  const cpu::FsqTables t = fsq_tables(spec, true);
  const Tensor ic = indices.contiguous();
  Shape s = indices.shape();
  s.push_back(t.c);
  Tensor lv = Tensor::empty(s, DType::i64, indices.device());
  const int64_t M = indices.numel();
  if (indices.device().is_cpu()) {
    cpu::fsq_indices_to_levels(lv.data<int64_t>(), ic.data<int64_t>(), M, t);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::fsq_indices_to_levels(lv.data<int64_t>(), ic.data<int64_t>(), M, t,
                                indices.device().index);
#else
    no_cuda(op);
#endif
  }
  return lv;
}

namespace {
void check_soft_values(const char* op, const Tensor& x, const std::vector<float>& values) {
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  check<ShapeError>(x.dim() >= 1, op, ": x must have at least one dim, got ", x.str());
  const int64_t D = x.size(-1);
  check<ConfigError>(values.size() == 1 ||
                         (static_cast<int64_t>(values.size()) == D && D <= cpu::kFsqMaxDim),
                     op, ": need 1 value or one per last-dim entry (<= ", cpu::kFsqMaxDim,
                     "), got ", values.size(), " values for x=", x.str());
  for (float v : values)
    check<ConfigError>(v > 0.f, op, ": soft clamp values must be > 0, got ", v);
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
  check<ShapeError>(grad.shape() == x.shape(), op, ": grad and x must have one shape, got ",
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

// ---------------- LFQ ----------------

LfqOutput lfq_forward(const Tensor& x, const LfqSpec& spec, int64_t num_codebooks, bool training,
                      const Tensor& act, bool with_indices) {
  const char* op = "lfq_forward";
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  const cpu::LfqParams p = lfq_params(op, spec);
  check<ConfigError>(num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  const int64_t W = num_codebooks * p.c;
  const int64_t N = rows_of(op, "x", x, W, "num_codebooks * codebook_dim");
  Tensor ac;
  if (act.defined()) {
    detail::check_args(op, {&x, &act});
    detail::check_f32(op, "act", act);
    check<ShapeError>(act.shape() == x.shape(), op, ": act must have x's shape, got ",
                      detail::describe({{"x", &x}, {"act", &act}}));
    ac = act.contiguous();
  }
  const Tensor xc = x.contiguous();
  LfqOutput out;
  out.quantized = Tensor::empty(x.shape(), DType::f32, x.device());
  int64_t* idx = nullptr;
  if (with_indices) {
    Shape s = x.shape();
    s.back() = num_codebooks;
    out.indices = Tensor::empty(s, DType::i64, x.device());
    idx = out.indices.data<int64_t>();
  }
  const bool transformed = p.spherical || p.soft_clamp > 0.f;
  float* u = nullptr;
  if (transformed) {
    out.u = Tensor::empty(x.shape(), DType::f32, x.device());
    u = out.u.data<float>();
  } else {
    out.u = xc;
  }
  const float* a = ac.defined() ? ac.data<float>() : nullptr;
  if (x.device().is_cpu()) {
    cpu::lfq_forward(out.quantized.data<float>(), idx, u, xc.data<float>(), a, N, num_codebooks, p,
                     training);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::lfq_forward(out.quantized.data<float>(), idx, u, xc.data<float>(), a, N, num_codebooks,
                      p, training, x.device().index);
#else
    no_cuda(op);
#endif
  }
  return out;
}

Tensor lfq_commitment(const Tensor& u, const LfqSpec& spec, int64_t num_codebooks,
                      const Tensor& row_mask) {
  const char* op = "lfq_commitment";
  detail::check_args(op, {&u});
  detail::check_f32(op, "u", u);
  const cpu::LfqParams p = lfq_params(op, spec);
  check<ConfigError>(num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  const int64_t W = num_codebooks * p.c;
  const int64_t N = rows_of(op, "u", u, W, "num_codebooks * codebook_dim");
  const Tensor m = row_mask_u8(op, row_mask, N, u.device());
  const Tensor uc = u.contiguous();
  if (u.device().is_cpu()) {
    double sum = 0.0;
    cpu::lfq_commitment_sum(&sum, uc.data<float>(), mask_ptr(m), N, num_codebooks, p);
    const int64_t rows = count_rows_cpu(m, N);
    const double mean = rows > 0 ? sum / static_cast<double>(rows * W) : 0.0;
    return Tensor::scalar(static_cast<float>(mean));
  }
#ifdef VQ_WITH_CUDA
  Tensor out = Tensor::empty({}, DType::f32, u.device());
  cuda::lfq_commitment_mean(out.data<float>(), uc.data<float>(), mask_ptr(m), N, num_codebooks, p,
                            u.device().index);
  return out;
#else
  no_cuda(op);
#endif
}

Tensor lfq_backward(const Tensor& grad_out, const Tensor& grad_u, const Tensor& x,
                    const LfqSpec& spec, int64_t num_codebooks, bool ste_to_u,
                    const Tensor& grad_commit, const Tensor& row_mask) {
  const char* op = "lfq_backward";
  detail::check_args(op, {&x});
  detail::check_f32(op, "x", x);
  const cpu::LfqParams p = lfq_params(op, spec);
  check<ConfigError>(num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  const int64_t W = num_codebooks * p.c;
  const int64_t N = rows_of(op, "x", x, W, "num_codebooks * codebook_dim");
  Tensor go, gu;
  for (auto [name, g, dst] : {std::tuple<const char*, const Tensor*, Tensor*>{"grad_out", &grad_out, &go},
                              {"grad_u", &grad_u, &gu}}) {
    if (!g->defined()) continue;
    detail::check_args(op, {&x, g});
    detail::check_f32(op, name, *g);
    check<ShapeError>(g->shape() == x.shape(), op, ": ", name, " must have x's shape, got ",
                      detail::describe({{name, g}, {"x", &x}}));
    *dst = g->contiguous();
  }
  check_scalar(op, "grad_commit", grad_commit, x.device());
  const Tensor m = row_mask_u8(op, row_mask, N, x.device());
  const Tensor xc = x.contiguous();
  Tensor dx = Tensor::empty(x.shape(), DType::f32, x.device());
  const float* gop = (ste_to_u && go.defined()) ? go.data<float>() : nullptr;
  const float* gup = gu.defined() ? gu.data<float>() : nullptr;
  if (x.device().is_cpu()) {
    float coef = 0.f;
    if (grad_commit.defined()) {
      const int64_t rows = count_rows_cpu(m, N);
      if (rows > 0) coef = static_cast<float>(cpu_scalar(grad_commit) / static_cast<double>(rows * W));
    }
    cpu::lfq_backward(dx.data<float>(), gop, gup, xc.data<float>(), coef, mask_ptr(m), N,
                      num_codebooks, p, ste_to_u);
  } else {
#ifdef VQ_WITH_CUDA
    const Tensor gc = grad_commit.defined() ? grad_commit.contiguous() : Tensor();
    cuda::lfq_backward(dx.data<float>(), gop, gup, xc.data<float>(),
                       gc.defined() ? gc.data<float>() : nullptr, mask_ptr(m), N, num_codebooks, p,
                       ste_to_u, x.device().index);
#else
    no_cuda(op);
#endif
  }
  return dx;
}

Tensor lfq_indices_to_codes(const Tensor& indices, const LfqSpec& spec) {
  const char* op = "lfq_indices_to_codes";
  detail::check_args(op, {&indices});
  detail::check_index(op, "indices", indices);
  const cpu::LfqParams p = lfq_params(op, spec);
  const Tensor ic = indices.contiguous();
  Shape s = indices.shape();
  s.push_back(p.c);
  Tensor codes = Tensor::empty(s, DType::f32, indices.device());
  const int64_t M = indices.numel();
  if (indices.device().is_cpu()) {
    cpu::lfq_indices_to_codes(codes.data<float>(), ic.data<int64_t>(), M, p);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::lfq_indices_to_codes(codes.data<float>(), ic.data<int64_t>(), M, p,
                               indices.device().index);
#else
    no_cuda(op);
#endif
  }
  return codes;
}

namespace {

cpu::LfqEntropyParams entropy_params(const char* op, const LfqSpec& spec, int64_t H,
                                     double inv_temperature, LfqEntropyMode mode) {
  const cpu::LfqParams p = lfq_params(op, spec);
  check<ConfigError>(p.c <= 30, op, ": the entropy terms need codebook_dim <= 30 (2^c codes), got ",
                     p.c);
  check<ConfigError>(H >= 1, op, ": num_codebooks must be >= 1, got ", H);
  check<ConfigError>(std::isfinite(inv_temperature), op, ": inv_temperature must be finite, got ",
                     inv_temperature);
  cpu::LfqEntropyParams e;
  e.c = p.c;
  e.H = H;
  e.inv_temperature = static_cast<float>(inv_temperature);
  e.code_mag = p.spherical ? cpu::lfq_sphere_code(p) : p.scale;
  e.mode = mode == LfqEntropyMode::exact       ? cpu::LfqEntropyMode::exact
           : mode == LfqEntropyMode::unclamped ? cpu::LfqEntropyMode::unclamped
                                               : cpu::LfqEntropyMode::factorized;
  return e;
}

// c of avg_probs [H, 2^c] (ShapeError otherwise).
int32_t avg_bits(const char* op, const Tensor& avg) {
  check<ShapeError>(avg.dim() == 2 && avg.size(0) >= 1 && avg.size(1) >= 2 &&
                        (avg.size(1) & (avg.size(1) - 1)) == 0,
                    op, ": avg_probs must be [H, 2^c], got ", avg.str());
  int32_t c = 0;
  while ((int64_t{1} << c) < avg.size(1)) ++c;
  return c;
}

// Validates `rows` (i64 [T] on u's device; on the CPU also 0 <= r < N); returns T.
int64_t check_rows(const char* op, const Tensor& rows, const Tensor& u, int64_t N) {
  if (!rows.defined()) return N;
  detail::check_args(op, {&u, &rows});
  detail::check_index(op, "rows", rows);
  check<ShapeError>(rows.dim() == 1, op, ": rows must be 1-D, got rows=", rows.str());
  if (rows.device().is_cpu()) {
    const Tensor rc = rows.contiguous();
    const int64_t* r = rc.data<int64_t>();
    for (int64_t i = 0; i < rows.numel(); ++i)
      check<ShapeError>(r[i] >= 0 && r[i] < N, op, ": row ", r[i], " out of range for ", N,
                        " rows of u=", u.str());
  }
  return rows.numel();
}

}  // namespace

LfqEntropyStats lfq_entropy_stats(const Tensor& u, const Tensor& rows, const LfqSpec& spec,
                                  int64_t num_codebooks, double inv_temperature,
                                  LfqEntropyMode mode) {
  const char* op = "lfq_entropy_stats";
  detail::check_args(op, {&u});
  detail::check_f32(op, "u", u);
  const cpu::LfqEntropyParams e = entropy_params(op, spec, num_codebooks, inv_temperature, mode);
  const int64_t N = rows_of(op, "u", u, num_codebooks * e.c, "num_codebooks * codebook_dim");
  const int64_t T = check_rows(op, rows, u, N);
  const Tensor uc = u.contiguous();
  const Tensor rc = rows.defined() ? rows.contiguous() : Tensor();
  const int64_t* rp = rc.defined() ? rc.data<int64_t>() : nullptr;
  LfqEntropyStats out;
  out.avg_probs = Tensor::empty({num_codebooks, int64_t{1} << e.c}, DType::f32, u.device());
  if (u.device().is_cpu()) {
    double ps = 0.0;
    cpu::lfq_entropy_forward(out.avg_probs.data<float>(), &ps, uc.data<float>(), rp, T, e);
    out.per_sample_entropy = Tensor::scalar(static_cast<float>(ps));
  } else {
#ifdef VQ_WITH_CUDA
    out.per_sample_entropy = Tensor::empty({}, DType::f32, u.device());
    cuda::lfq_entropy_forward(out.avg_probs.data<float>(), out.per_sample_entropy.data<float>(),
                              uc.data<float>(), rp, T, e, u.device().index);
#else
    no_cuda(op);
#endif
  }
  return out;
}

Tensor lfq_batch_entropy(const Tensor& avg_probs) {
  const char* op = "lfq_batch_entropy";
  detail::check_args(op, {&avg_probs});
  detail::check_f32(op, "avg_probs", avg_probs);
  const int32_t c = avg_bits(op, avg_probs);
  const int64_t H = avg_probs.size(0);
  const Tensor ac = avg_probs.contiguous();
  if (avg_probs.device().is_cpu())
    return Tensor::scalar(static_cast<float>(cpu::lfq_batch_entropy(ac.data<float>(), H, c)));
#ifdef VQ_WITH_CUDA
  Tensor out = Tensor::empty({}, DType::f32, avg_probs.device());
  cuda::lfq_batch_entropy(out.data<float>(), ac.data<float>(), H, c, avg_probs.device().index);
  return out;
#else
  no_cuda(op);
#endif
}

Tensor lfq_batch_entropy_backward(const Tensor& avg_probs, const Tensor& grad_batch) {
  const char* op = "lfq_batch_entropy_backward";
  detail::check_args(op, {&avg_probs, &grad_batch});
  detail::check_f32(op, "avg_probs", avg_probs);
  const int32_t c = avg_bits(op, avg_probs);
  check_scalar(op, "grad_batch", grad_batch, avg_probs.device());
  const int64_t H = avg_probs.size(0);
  const Tensor ac = avg_probs.contiguous();
  Tensor G = Tensor::empty(avg_probs.shape(), DType::f32, avg_probs.device());
  if (avg_probs.device().is_cpu()) {
    cpu::lfq_batch_entropy_grad(G.data<float>(), ac.data<float>(), H, c, cpu_scalar(grad_batch));
  } else {
#ifdef VQ_WITH_CUDA
    const Tensor gb = grad_batch.contiguous();
    cuda::lfq_batch_entropy_grad(G.data<float>(), ac.data<float>(), H, c, gb.data<float>(),
                                 avg_probs.device().index);
#else
    no_cuda(op);
#endif
  }
  return G;
}

Tensor lfq_entropy_backward(const Tensor& u, const Tensor& rows, const Tensor& grad_avg_probs,
                            const Tensor& grad_per_sample, const LfqSpec& spec,
                            int64_t num_codebooks, double inv_temperature,
                            LfqEntropyMode mode) {
  const char* op = "lfq_entropy_backward";
  detail::check_args(op, {&u});
  detail::check_f32(op, "u", u);
  const cpu::LfqEntropyParams e = entropy_params(op, spec, num_codebooks, inv_temperature, mode);
  const int64_t N = rows_of(op, "u", u, num_codebooks * e.c, "num_codebooks * codebook_dim");
  const int64_t K = int64_t{1} << e.c;
  Tensor gc;
  if (grad_avg_probs.defined()) {
    detail::check_args(op, {&u, &grad_avg_probs});
    detail::check_f32(op, "grad_avg_probs", grad_avg_probs);
    check<ShapeError>(grad_avg_probs.dim() == 2 && grad_avg_probs.size(0) == num_codebooks &&
                          grad_avg_probs.size(1) == K,
                      op, ": grad_avg_probs must be [num_codebooks, 2^codebook_dim] = [",
                      num_codebooks, ", ", K, "], got ", grad_avg_probs.str());
    gc = grad_avg_probs.contiguous();
  }
  check_scalar(op, "grad_per_sample", grad_per_sample, u.device());
  const int64_t T = check_rows(op, rows, u, N);
  const Tensor uc = u.contiguous();
  const Tensor rc = rows.defined() ? rows.contiguous() : Tensor();
  const int64_t* rp = rc.defined() ? rc.data<int64_t>() : nullptr;
  Tensor du = Tensor::zeros(u.shape(), DType::f32, u.device());
  const float* G = gc.defined() ? gc.data<float>() : nullptr;
  if (u.device().is_cpu()) {
    cpu::lfq_entropy_backward(du.data<float>(), uc.data<float>(), rp, T, G,
                              cpu_scalar(grad_per_sample), e);
  } else {
#ifdef VQ_WITH_CUDA
    const Tensor gps = grad_per_sample.defined() ? grad_per_sample.contiguous() : Tensor();
    cuda::lfq_entropy_backward(du.data<float>(), uc.data<float>(), rp, T, G,
                               gps.defined() ? gps.data<float>() : nullptr, e, u.device().index);
#else
    no_cuda(op);
#endif
  }
  return du;
}

}  // namespace vq::ops
