// VectorQuantize's in-place codebook optimizer (SPEC.md 3.6 and 18.2): the one-step
// codebook update inside a training forward, and update_in_place_optimizer().
#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/vector_quantize.h"

namespace vq {

Variable VectorQuantize::in_place_optimize(const Variable& x, CodebookCall cc, const Tensor& mask,
                                           CodebookResult& cb) {
  const Variable& q = cb.quantized;  // (h', b', n, d)
  Variable sq = ag::pow(ag::sub(q, x.detach()), 2.0);
  Variable loss;
  if (mask.defined()) {
    // Mean over the entries of valid tokens; the (b, n) mask is expanded over the heads
    // folded into the batch / the separate codebooks as the reference's repeat does.
    const int64_t hp = q.size(0), bp = q.size(1), n = q.size(2);
    Tensor rows = codebook_->expand_mask(mask.to(q.device()), hp, bp * n);
    Tensor w = rows.to(DType::f32).reshape({hp, bp, n, 1}).expand(q.shape()).contiguous();
    const double count = ops::sum(w).item<float>();
    loss = ag::div(ag::sum(ag::mul(sq, Variable(w))), count);
  } else {
    loss = ag::mean(sq);
  }
  check<AutogradError>(loss.requires_grad(),
                       "VectorQuantize: in-place codebook optimizer: the quantized codes depend on no parameter "
                       "that requires grad (gradients disabled?)");
  loss.backward();  // gradients accumulate into embed and the bridge parameters
  if (!opts_.manual_in_place_optimizer_update) update_in_place_optimizer();
  cc.update_usage = false;  // quantize again with the updated codes, no second statistics update
  cb = codebook_->forward(x, cc);
  return loss.detach();
}

void VectorQuantize::update_in_place_optimizer() {
  if (!in_place_opt_) return;
  if (codebook_->options().use_ddp) {
    const double world = static_cast<double>(comm_->size());
    for (Variable& p : codebook_->parameters()) {
      if (!p.has_grad()) continue;
      Tensor g = p.grad().contiguous().clone();
      comm_->all_reduce_sum(g);
      p.set_grad(ops::div(g, world));
    }
  }
  in_place_opt_->step();
  in_place_opt_->zero_grad();
}

}  // namespace vq
