// Grad mode: whether differentiable ops record graph nodes. Thread-local; on by
// default. NoGradGuard turns it off for a scope (evaluation, EMA updates).
#pragma once

namespace vq::autograd {

bool grad_enabled();
void set_grad_enabled(bool on);

class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace vq::autograd
