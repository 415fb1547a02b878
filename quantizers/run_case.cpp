// Runs one data-described quantizer call (see run_case.h).
#include "quantizers/run_case.h"

#include "autograd/functions.h"
#include "quantizers/quantizer.h"

namespace vq {

std::map<std::string, Tensor> run_quantizer_case(const QuantizerCase& c) {
  auto q = make_quantizer(c.module, c.config);
  q->to(c.device);
  if (!c.state.empty()) q->load_state_dict(c.state, true);
  q->train(c.train);

  const bool need_grad = c.x_requires_grad || c.grad_output.defined();
  QuantizerCall call;
  call.x = Variable(c.x.to(c.device).clone(), need_grad);
  for (const auto& kv : c.tensors) call.tensors[kv.first] = kv.second.to(c.device);
  call.kwargs = c.kwargs;
  QuantizerOutput out = q->call(call);

  std::map<std::string, Tensor> res;
  if (c.grad_output.defined()) {
    check<ShapeError>(c.grad_output.shape() == out.quantized.shape(), c.module,
                      ": grad_output has shape ", shape_str(c.grad_output.shape()),
                      " but quantized has ", shape_str(out.quantized.shape()));
    Variable s = ag::sum(ag::mul(out.quantized, Variable(c.grad_output.to(c.device))));
    if (c.grad_loss.defined() && out.loss.defined() && out.loss.requires_grad())
      s = ag::add(s, ag::sum(ag::mul(out.loss, Variable(c.grad_loss.to(c.device)))));
    if (s.requires_grad()) s.backward();
    res["grad.x"] = call.x.has_grad() ? call.x.grad().to(cpu_device()) : Tensor::zeros(c.x.shape());
    for (auto& p : q->named_parameters())
      if (p.second.has_grad()) res["grad." + p.first] = p.second.grad().to(cpu_device());
  }
  if (out.quantized.defined()) res["quantized"] = out.quantized.value().to(cpu_device());
  if (out.indices.defined()) res["indices"] = out.indices.to(cpu_device());
  if (out.loss.defined()) res["loss"] = out.loss.value().to(cpu_device());
  for (const auto& kv : out.breakdown) res["loss." + kv.first] = kv.second.value().to(cpu_device());
  if (out.all_codes.defined()) res["all_codes"] = out.all_codes.value().to(cpu_device());
  if (c.train)
    for (const auto& kv : q->state_dict()) res["state." + kv.first] = kv.second.to(cpu_device()).clone();
  if (c.decode && out.indices.defined()) {
    NoGradGuard ng;
    res["output_from_indices"] = q->get_output_from_indices(out.indices).to(cpu_device());
  }
  return res;
}

}  // namespace vq
