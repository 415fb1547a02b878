// ResidualVQ beam search (SPEC.md 4.8): every token keeps up to `beam` partial code
// sequences; each layer proposes its top-k codes for every live beam, scored by the
// cumulative weighted commitment loss, and the best `beam` candidates survive (the best
// one at the last processed layer). Afterwards the chosen codes update the codebook
// statistics (update_indices), as the reference does: only layer 0 from the layer-0
// input by default, every processed layer from its own input with the vqcpp option
// beam_update_all_layers (SPEC 23.2).
#include "autograd/functions.h"
#include "kernels/ops.h"
#include "quantizers/residual_vq.h"

namespace vq {

namespace {

// (b, n, j, ...) -> (b, n, j * k, ...): each beam repeated k times (beam-major).
Shape repeated_shape(const Shape& s, int64_t k) {
  Shape out = s;
  out[2] *= k;
  return out;
}
Shape expanded_shape(const Shape& s, int64_t k) {
  Shape out(s.begin(), s.begin() + 3);
  out.push_back(k);
  out.insert(out.end(), s.begin() + 3, s.end());
  return out;
}
Tensor repeat_beams(const Tensor& t, int64_t k) {
  return t.unsqueeze(3).expand(expanded_shape(t.shape(), k)).reshape(repeated_shape(t.shape(), k));
}
Variable repeat_beams(const Variable& t, int64_t k) {
  return ag::reshape(ag::expand(ag::unsqueeze(t, 3), expanded_shape(t.shape(), k)), repeated_shape(t.shape(), k));
}

// Index sel (b, n, m) broadcast over t's trailing axes (b, n, J, ...).
Tensor beam_index(const Tensor& sel, const Shape& s) {
  Tensor idx = sel;
  Shape target = s;
  target[2] = sel.size(2);
  while (idx.dim() < static_cast<int64_t>(s.size())) idx = idx.unsqueeze(-1);
  return idx.expand(target).contiguous();
}
Tensor pick(const Tensor& t, const Tensor& sel) { return ops::gather(t, 2, beam_index(sel, t.shape())); }
Variable pick(const Variable& t, const Tensor& sel) { return ag::gather(t, 2, beam_index(sel, t.shape())); }

}  // namespace

ResidualVQ::Pass ResidualVQ::run_beam(const Variable& x, const Tensor& mask, const ResidualVQCall& c,
                                      std::optional<int64_t> last, int64_t beam) {
  const int64_t b = x.size(0), n = x.size(1), d = codebook_dim_, q = num_quantizers();
  const Device dev = x.device();
  Tensor scores = Tensor::zeros({b, n, 1}, DType::f32, dev);
  Variable r = ag::unsqueeze(x, 2);                            // (b, n, j, d)
  Variable out(Tensor::zeros({b, n, 1, d}, DType::f32, dev));  // (b, n, j, d)
  std::vector<Tensor> idx_hist;                                // per layer (b, n, j)
  std::vector<Variable> loss_hist;                             // per layer (b, n, j)
  std::vector<Tensor> res_hist;                                // per processed layer (b, n, j, d)

  for (int64_t l = 0; l < q; ++l) {
    const int64_t j = r.size(2);
    if (last && l > *last) {
      idx_hist.push_back(Tensor::full({b, n, j}, -1.0, DType::i64, dev));
      loss_hist.push_back(Variable(Tensor::zeros({b, n, j}, DType::f32, dev)));
      continue;
    }
    const bool is_last = last ? l == *last : l == q - 1;
    res_hist.push_back(r.value());
    const int64_t k = std::min(beam, sizes_[static_cast<size_t>(l)]);
    VectorQuantizeCall vc;
    vc.topk = k;
    vc.sample_codebook_temp = c.sample_codebook_temp;
    vc.freeze_codebook = c.freeze_codebook;
    if (mask.defined()) vc.mask = mask.unsqueeze(-1).expand({b, n, j}).reshape({b, n * j});
    QuantizerOutput o = layers_[static_cast<size_t>(l)]->forward(ag::reshape(r, {b, n * j, d}), vc);
    Variable ql = ag::reshape(o.quantized, {b, n, j, k, d});
    Tensor il = o.indices.reshape({b, n, j, k});
    Variable lossl = ag::reshape(o.loss, {b, n, j, k});

    // score[j, k] = score[j] - w_l * loss[j, k], flattened beam-major to j * k candidates.
    scores = ops::sub(scores.unsqueeze(-1), ops::mul(lossl.value(), beam_weights_[static_cast<size_t>(l)]))
                 .reshape({b, n, j * k});
    r = ag::reshape(ag::sub(ag::unsqueeze(r, 3), frac_gradient(ql)), {b, n, j * k, d});
    out = ag::reshape(ag::add(ag::unsqueeze(out, 3), ql), {b, n, j * k, d});
    for (auto& t : idx_hist) t = repeat_beams(t, k);
    for (auto& t : loss_hist) t = repeat_beams(t, k);
    for (auto& t : res_hist) t = repeat_beams(t, k);
    idx_hist.push_back(il.reshape({b, n, j * k}));
    loss_hist.push_back(ag::reshape(lossl, {b, n, j * k}));

    const int64_t keep = is_last ? 1 : beam;
    if (j * k > keep) {
      auto top = ops::topk(scores, keep, -1);
      scores = top.first;
      const Tensor& sel = top.second;  // (b, n, keep), best first
      r = pick(r, sel);
      out = pick(out, sel);
      for (auto& t : idx_hist) t = pick(t, sel);
      for (auto& t : loss_hist) t = pick(t, sel);
      for (auto& t : res_hist) t = pick(t, sel);
    }
  }

  // Beam 0 is the best.
  Pass p;
  p.out = ag::select(out, 2, 0);
  std::vector<Variable> per_layer;
  for (auto& t : idx_hist) p.indices.push_back(t.select(2, 0).contiguous());
  for (auto& t : loss_hist) per_layer.push_back(ag::select(t, 2, 0));
  for (auto& t : res_hist) p.residuals.push_back(t.select(2, 0).contiguous());
  Variable L = ag::stack(per_layer, -1);  // (b, n, q)
  if (mask.defined()) {
    Tensor keep = mask.unsqueeze(-1).expand(L.shape()).contiguous();
    L = ag::where(keep, L, Variable(Tensor::zeros({}, DType::f32, dev)));
    const double valid = ops::sum(mask.to(DType::f32)).item<float>();
    L = ag::div(ag::sum(L, {0, 1}), std::max(valid, 1e-4));
  } else {
    L = ag::mean(L, {0, 1});
  }
  for (int64_t l = 0; l < q; ++l) p.losses.push_back(ag::select(L, 0, l));

  // Codebook statistics from the chosen codes (training; not when frozen: SPEC 23.16).
  const bool frozen = c.freeze_codebook.value_or(layers_[0]->options().freeze_codebook);
  if (is_training() && !frozen) {
    if (opts_.beam_update_all_layers) {
      for (size_t l = 0; l < p.residuals.size(); ++l)
        layers_[l]->update_indices(Variable(p.residuals[l]), p.indices[l], mask);
    } else {
      // The reference pairs layer i with final beam i's layer-0 input (always x) and beam
      // 0's layer-i indices, for i < min(q, beams left); in practice one beam is left, so
      // only layer 0 is updated (SPEC 4.8).
      const int64_t updates = std::min<int64_t>(q, r.size(2));
      for (int64_t i = 0; i < updates; ++i)
        layers_[static_cast<size_t>(i)]->update_indices(Variable(x.value()), p.indices[static_cast<size_t>(i)], mask);
    }
  }
  return p;
}

}  // namespace vq
