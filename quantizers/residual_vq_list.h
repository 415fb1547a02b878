// NumberedModules: the equivalent of torch.nn.ModuleList for state names: children
// registered as "0", "1", ... in order, so a parent's state reads layers.0.*, rvqs.1.*.
#pragma once
#include <memory>
#include <string>

#include "nn/module.h"

namespace vq {

class NumberedModules : public nn::Module {
 public:
  // Registers m as child str(count) and returns it (ConfigError on null).
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(n_++), m);
  }
  int64_t count() const { return n_; }

 private:
  int64_t n_ = 0;
};

}  // namespace vq
