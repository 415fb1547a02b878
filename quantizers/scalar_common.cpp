// Shared pieces of the scalar quantizers (see scalar_common.h).
#include "quantizers/scalar_common.h"

#include <algorithm>
#include <cctype>

#include "kernels/ops.h"
#include "nn/init.h"

namespace vq::sq {

// ---------------- layout ----------------

Variable to_sequence(const Variable& x, bool move, SeqLayout* layout, const char* what) {
  layout->moved = move;
  layout->spatial.clear();
  if (!move) return x;
  check<ShapeError>(x.dim() >= 3, what, ": a channel-first input must be (b, d, ...), got x=",
                    shape_str(x.shape()));
  layout->spatial.assign(x.shape().begin() + 2, x.shape().end());
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return ag::reshape(ag::permute(x, perm), {x.size(0), -1, x.size(1)});
}

namespace {
Shape unpacked_shape(int64_t b, const Shape& spatial, int64_t d) {
  Shape s{b};
  s.insert(s.end(), spatial.begin(), spatial.end());
  s.push_back(d);
  return s;
}
std::vector<int64_t> last_to_one(int64_t rank) {
  std::vector<int64_t> perm{0, rank - 1};
  for (int64_t i = 1; i < rank - 1; ++i) perm.push_back(i);
  return perm;
}
}  // namespace

Variable from_sequence(const Variable& y, const SeqLayout& layout) {
  if (!layout.moved) return y;
  Variable t = ag::reshape(y, unpacked_shape(y.size(0), layout.spatial, y.size(-1)));
  return ag::permute(t, last_to_one(t.dim()));
}

Tensor from_sequence(const Tensor& y, const SeqLayout& layout) {
  if (!layout.moved) return y;
  return last_to_channel(y.reshape(unpacked_shape(y.size(0), layout.spatial, y.size(-1))));
}

Tensor indices_from_sequence(const Tensor& idx, const SeqLayout& layout) {
  if (!layout.moved) return idx;
  Shape s{idx.size(0)};
  s.insert(s.end(), layout.spatial.begin(), layout.spatial.end());
  for (int64_t i = 2; i < idx.dim(); ++i) s.push_back(idx.size(i));
  return idx.reshape(s);
}

Tensor last_to_channel(const Tensor& t) { return t.permute(last_to_one(t.dim())).contiguous(); }

// ---------------- small shared helpers ----------------

int64_t log2_ceil(int64_t k) {
  int64_t c = 0;
  while ((int64_t{1} << c) < k) ++c;
  return c;
}

Tensor mixed_radix_index(const Tensor& level_indices, const std::vector<int64_t>& levels) {
  const int64_t c = static_cast<int64_t>(levels.size());
  check<ShapeError>(level_indices.dim() >= 1 && level_indices.size(-1) == c, "mixed_radix_index: last axis must be ",
                    c, " (len(levels)), got level_indices=", shape_str(level_indices.shape()));
  const Tensor lvl = level_indices.to(DType::i64);
  Shape out_shape(lvl.shape().begin(), lvl.shape().end() - 1);
  Tensor idx = Tensor::zeros(out_shape, DType::i64, lvl.device());
  int64_t basis = 1;
  for (int64_t j = 0; j < c; ++j) {
    idx = ops::add(idx, ops::mul(lvl.select(-1, j), static_cast<double>(basis)));
    basis *= levels[static_cast<size_t>(j)];
  }
  return idx;
}

Tensor random_orthogonal(int64_t c, Generator& gen) {
  Tensor r = Tensor::empty({c, c});
  nn::init::orthogonal_(r, 1.0, gen);
  return r;
}

Variable rotate_last(const Variable& z, const Tensor* R, bool inverse) {
  if (!R) return z;
  Tensor m = R->to(z.device());
  if (inverse) m = m.t().contiguous();
  const Shape s = z.shape();
  return ag::reshape(ag::matmul(ag::reshape(z, {-1, m.size(0)}), Variable(m)), s);
}

// ---------------- activations ----------------

SteActivation parse_activation(const std::string& name, const char* module) {
  std::string n;
  for (char ch : name)
    if (ch != '(' && ch != ')') n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (n == "identity" || n.empty()) return SteActivation::identity;
  if (n == "tanh") return SteActivation::tanh;
  if (n == "sigmoid") return SteActivation::sigmoid;
  if (n == "relu") return SteActivation::relu;
  if (n == "silu") return SteActivation::silu;
  if (n == "gelu") return SteActivation::gelu;
  throw ConfigError(str_cat(module, ": straight_through_activation must be one of Identity, Tanh, ",
                            "Sigmoid, ReLU, SiLU, GELU, got '", name, "'"));
}

Variable apply_activation(SteActivation a, const Variable& x) {
  switch (a) {
    case SteActivation::identity: return x;
    case SteActivation::tanh: return ag::tanh(x);
    case SteActivation::sigmoid: return ag::sigmoid(x);
    case SteActivation::relu: return ag::relu(x);
    case SteActivation::silu: return ag::silu(x);
    case SteActivation::gelu: return ag::gelu(x);
  }
  return x;
}

// ---------------- autograd functions ----------------

FsqResult fsq_quantize(const Variable& z, const ops::FsqSpec& spec, int64_t H, bool with_indices,
                       const ops::FsqNoiseSpec& noise) {
  ops::FsqOutput o = ops::fsq_forward(z.value(), spec, H, with_indices, noise);
  FsqResult r;
  r.indices = o.indices;
  // d codes / d z = bound'(z) / (L // 2) (straight-through over the rounding), zero where
  // the hard clamp or the noise clamp cuts it: ops::fsq_backward.
  r.codes = make_result("FSQ", o.codes, {z}, {z.value()},
                        [spec, H, noise](const Tensor& g, const BackwardContext& ctx) {
                          return std::vector<Tensor>{ops::fsq_backward(g, ctx.saved(0), spec, H, noise)};
                        });
  return r;
}

Variable soft_clamp(const Variable& x, const std::vector<float>& values, bool exact) {
  // d/dx tanh(x / v) v = 1 - tanh(x / v)^2
  return make_result("soft_clamp", ops::soft_clamp(x.value(), values, exact), {x}, {x.value()},
                     [values, exact](const Tensor& g, const BackwardContext& ctx) {
                       return std::vector<Tensor>{ops::soft_clamp_backward(g, ctx.saved(0), values, exact)};
                     });
}

LfqQuantResult lfq_quantize(const Variable& x, const ops::LfqSpec& spec, int64_t H, bool training,
                            SteActivation act) {
  const bool transformed = spec.spherical || spec.soft_clamp_input_value > 0;
  ops::LfqOutput o = ops::lfq_forward(x.value(), spec, H, training && act == SteActivation::identity);
  LfqQuantResult r;
  r.indices = o.indices;
  if (transformed) {
    // u = normalize(tanh(x / v) v) * scale: ops::lfq_backward with the gradient as grad_u.
    r.u = make_result("LFQ.transform", o.u, {x}, {x.value()},
                      [spec, H](const Tensor& g, const BackwardContext& ctx) {
                        return std::vector<Tensor>{ops::lfq_backward(Tensor(), g, ctx.saved(0), spec, H, false)};
                      });
  } else {
    r.u = x;
  }
  if (!training) {
    r.quantized = Variable(o.quantized);
    return r;
  }
  Variable a = r.u;
  Tensor value = o.quantized;
  if (act != SteActivation::identity) {
    a = apply_activation(act, r.u);
    value = ops::lfq_forward(x.value(), spec, H, true, a.value(), false).quantized;
  }
  // a + (q - a): identity gradient to a.
  r.quantized = make_result("LFQ.straight_through", value, {a}, {},
                            [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
  return r;
}

LfqEntropyResult lfq_entropy(const Variable& u, const Tensor& rows, const ops::LfqSpec& spec, int64_t H,
                             double inv_temperature, ops::LfqEntropyMode mode) {
  ops::LfqEntropyStats st = ops::lfq_entropy_stats(u.value(), rows, spec, H, inv_temperature, mode);
  const int64_t HK = st.avg_probs.numel();
  // Both statistics in one node: value [1 + H K] = (per_sample, avg_probs...).
  Tensor packed = ops::cat({st.per_sample_entropy.reshape({1}), st.avg_probs.reshape({-1})}, 0);
  const Shape avg_shape = st.avg_probs.shape();
  // saved: u and the row selection (undefined = all rows)
  Variable node = make_result(
      "LFQ.entropy", packed, {u}, {u.value(), rows},
      [spec, H, inv_temperature, mode, HK, avg_shape](const Tensor& g, const BackwardContext& ctx) {
        const Tensor gps = g.narrow(0, 0, 1).reshape({}).contiguous();
        const Tensor gavg = g.narrow(0, 1, HK).reshape(avg_shape).contiguous();
        return std::vector<Tensor>{ops::lfq_entropy_backward(ctx.saved(0), ctx.saved(1), gavg, gps,
                                                             spec, H, inv_temperature, mode)};
      });
  LfqEntropyResult r;
  r.per_sample = ag::reshape(ag::narrow(node, 0, 0, 1), {});
  r.avg_probs = ag::reshape(ag::narrow(node, 0, 1, HK), avg_shape);
  return r;
}

Variable lfq_batch_entropy(const Variable& avg) {
  return make_result("LFQ.batch_entropy", ops::lfq_batch_entropy(avg.value()), {avg}, {avg.value()},
                     [](const Tensor& g, const BackwardContext& ctx) {
                       return std::vector<Tensor>{ops::lfq_batch_entropy_backward(ctx.saved(0), g)};
                     });
}

Variable all_reduce_mean(const Variable& t, const std::shared_ptr<dist::Comm>& comm) {
  if (!comm || !comm->distributed()) return t;
  const double inv = 1.0 / comm->size();
  Tensor v = t.value().contiguous().clone();
  comm->all_reduce_sum(v);
  std::shared_ptr<dist::Comm> c = comm;
  return make_result("all_reduce_mean", ops::mul(v, inv), {t}, {},
                     [c, inv](const Tensor& g, const BackwardContext&) {
                       Tensor s = g.contiguous().clone();
                       c->all_reduce_sum(s);
                       return std::vector<Tensor>{ops::mul(s, inv)};
                     });
}

}  // namespace vq::sq
