// Tensor-level LFQ ops (see ops_scalar_quant.h): validation, output allocation,
// dispatch to kernels/cpu/{lfq,lfq_entropy} or kernels/cuda/lfq.
#include <cmath>
#include <vector>

#include "kernels/cpu/lfq.h"
#include "kernels/cpu/lfq_entropy.h"
#include "kernels/ops_scalar_quant.h"
#include "kernels/ops_scalar_quant_detail.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/lfq.h"
#endif

namespace vq::ops {

using namespace sq_detail;

namespace {

// The checks every LFQ op runs on its f32 input t [..., num_codebooks * c] (named
// `what` in messages): the kernel parameters, the row width W and the row count N.
struct LfqRows {
  cpu::LfqParams p;
  int64_t W, N;
};

LfqRows lfq_rows(const char* op, const char* what, const Tensor& t, const LfqSpec& spec,
                 int64_t num_codebooks) {
  detail::check_args(op, {&t});
  detail::check_f32(op, what, t);
  const cpu::LfqParams p = lfq_params(op, spec);
  VQ_CHECK(ConfigError, num_codebooks >= 1, op, ": num_codebooks must be >= 1, got ", num_codebooks);
  const int64_t W = num_codebooks * p.c;
  return {p, W, rows_of(op, what, t, W, "num_codebooks * codebook_dim")};
}

}  // namespace

// ---------------- LFQ ----------------

LfqOutput lfq_forward(const Tensor& x, const LfqSpec& spec, int64_t num_codebooks, bool training,
                      const Tensor& act, bool with_indices) {
  const char* op = "lfq_forward";
  const auto [p, W, N] = lfq_rows(op, "x", x, spec, num_codebooks);
  Tensor ac;
  if (act.defined()) {
    detail::check_args(op, {&x, &act});
    detail::check_f32(op, "act", act);
    VQ_CHECK(ShapeError, act.shape() == x.shape(), op, ": act must have x's shape, got ",
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
  const auto [p, W, N] = lfq_rows(op, "u", u, spec, num_codebooks);
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
  const auto [p, W, N] = lfq_rows(op, "x", x, spec, num_codebooks);
  Tensor go, gu;
  for (auto [name, g, dst] : {std::tuple<const char*, const Tensor*, Tensor*>{"grad_out", &grad_out, &go},
                              {"grad_u", &grad_u, &gu}}) {
    if (!g->defined()) continue;
    detail::check_args(op, {&x, g});
    detail::check_f32(op, name, *g);
    VQ_CHECK(ShapeError, g->shape() == x.shape(), op, ": ", name, " must have x's shape, got ",
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
  VQ_CHECK(ConfigError, p.c <= 30, op, ": the entropy terms need codebook_dim <= 30 (2^c codes), got ",
                     p.c);
  VQ_CHECK(ConfigError, H >= 1, op, ": num_codebooks must be >= 1, got ", H);
  VQ_CHECK(ConfigError, std::isfinite(inv_temperature), op, ": inv_temperature must be finite, got ",
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

// The checks of the entropy ops on u [..., num_codebooks * c]: parameters and row count.
struct EntropyRows {
  cpu::LfqEntropyParams e;
  int64_t N;
};

EntropyRows entropy_rows(const char* op, const Tensor& u, const LfqSpec& spec, int64_t H,
                         double inv_temperature, LfqEntropyMode mode) {
  detail::check_args(op, {&u});
  detail::check_f32(op, "u", u);
  const cpu::LfqEntropyParams e = entropy_params(op, spec, H, inv_temperature, mode);
  return {e, rows_of(op, "u", u, H * e.c, "num_codebooks * codebook_dim")};
}

// c of avg_probs [H, 2^c] (ShapeError otherwise).
int32_t avg_bits(const char* op, const Tensor& avg) {
  VQ_CHECK(ShapeError, avg.dim() == 2 && avg.size(0) >= 1 && avg.size(1) >= 2 &&
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
  VQ_CHECK(ShapeError, rows.dim() == 1, op, ": rows must be 1-D, got rows=", rows.str());
  if (rows.device().is_cpu()) {
    const Tensor rc = rows.contiguous();
    const int64_t* r = rc.data<int64_t>();
    for (int64_t i = 0; i < rows.numel(); ++i)
      VQ_CHECK(ShapeError, r[i] >= 0 && r[i] < N, op, ": row ", r[i], " out of range for ", N,
                        " rows of u=", u.str());
  }
  return rows.numel();
}

}  // namespace

LfqEntropyStats lfq_entropy_stats(const Tensor& u, const Tensor& rows, const LfqSpec& spec,
                                  int64_t num_codebooks, double inv_temperature,
                                  LfqEntropyMode mode) {
  const char* op = "lfq_entropy_stats";
  const auto [e, N] = entropy_rows(op, u, spec, num_codebooks, inv_temperature, mode);
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
  const auto [e, N] = entropy_rows(op, u, spec, num_codebooks, inv_temperature, mode);
  const int64_t K = int64_t{1} << e.c;
  Tensor gc;
  if (grad_avg_probs.defined()) {
    detail::check_args(op, {&u, &grad_avg_probs});
    detail::check_f32(op, "grad_avg_probs", grad_avg_probs);
    VQ_CHECK(ShapeError, grad_avg_probs.dim() == 2 && grad_avg_probs.size(0) == num_codebooks &&
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
