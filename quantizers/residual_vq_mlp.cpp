// QincoMLP (see residual_vq_mlp.h).
#include "quantizers/residual_vq_mlp.h"

#include "autograd/functions.h"
#include "nn/activation.h"
#include "nn/sequential.h"
#include "quantizers/functional.h"
#include "quantizers/residual_vq_list.h"

namespace vq {

QincoMLP::QincoMLP(int64_t dim, std::optional<int64_t> dim_hidden, int64_t depth, bool l2norm_output, Generator& gen)
    : dim_(dim), l2norm_output_(l2norm_output) {
  const int64_t hidden = dim_hidden.value_or(dim);
  check<ConfigError>(dim > 0 && hidden > 0 && depth >= 0,
                     "QincoMLP: dim and dim_hidden must be positive and depth >= 0, got ", dim, ", ", hidden, ", ",
                     depth);
  proj_in_ = register_module("proj_in", std::make_shared<nn::Linear>(2 * dim, dim, true, gen));
  auto list = register_module("layers", std::make_shared<NumberedModules>());
  for (int64_t j = 0; j < depth; ++j) {
    auto seq = std::make_shared<nn::Sequential>();
    seq->add(std::make_shared<nn::Linear>(dim, hidden, true, gen));
    seq->add(std::make_shared<nn::SiLU>());
    seq->add(std::make_shared<nn::Linear>(hidden, dim, true, gen));
    blocks_.push_back(list->add(std::shared_ptr<nn::Layer>(seq)));
  }
}

Variable QincoMLP::forward(const Variable& codes_in, const Variable& condition_in) {
  const int64_t d = dim_;
  const bool one_headed = codes_in.dim() == 2;
  Variable codes = one_headed ? ag::unsqueeze(codes_in, 0) : codes_in;                      // (h, K, d)
  Variable cond = condition_in.dim() == 2 ? ag::unsqueeze(condition_in, 1) : condition_in;  // (b, n, d)
  check<ShapeError>(codes.dim() == 3 && codes.size(-1) == d && cond.dim() == 3 && cond.size(-1) == d,
                    "QincoMLP: expected codes (h, K, ", d, ") and condition (b, n, ", d,
                    "), got codes=", shape_str(codes_in.shape()), " condition=", shape_str(condition_in.shape()));
  const int64_t h = codes.size(0), K = codes.size(1), b = cond.size(0), n = cond.size(1);
  // proj_in(concat(c, e)) = c Wc^T + e We^T + bias, with W = [Wc | We].
  Variable W = proj_in_->weight();  // (d, 2d)
  Variable Wc = ag::narrow(W, 1, 0, d), We = ag::narrow(W, 1, d, d);
  Variable pc = ag::matmul(ag::reshape(cond, {b * n, d}), ag::transpose(Wc, 0, 1));  // (b n, d)
  Variable pe = ag::add(ag::matmul(ag::reshape(codes, {h * K, d}), ag::transpose(We, 0, 1)), proj_in_->bias());
  Variable y = ag::add(ag::reshape(pc, {1, b, n, 1, d}), ag::reshape(pe, {h, 1, 1, K, d}));  // (h, b, n, K, d)
  for (auto& blk : blocks_) y = ag::add(blk->forward(y), y);
  if (l2norm_output_) y = qf::l2norm(y, 1e-12);
  return one_headed ? ag::squeeze(y, 0) : y;
}

}  // namespace vq
