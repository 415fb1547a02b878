// Activation layers and Dropout (see activation.h).
#include "nn/activation.h"

#include "autograd/unary.h"
#include "nn/functional.h"

namespace vq::nn {

GELU::GELU(const std::string& approximate) : tanh_(approximate == "tanh") {
  VQ_CHECK(ConfigError, approximate == "none" || approximate == "tanh", "GELU: approximate '",
                     approximate, "' is not supported (allowed: 'none', 'tanh')");
}
Variable GELU::forward(const Variable& x) { return ag::gelu(x, tanh_); }
std::string GELU::repr() const {
  return tanh_ ? "GELU(approximate='tanh')" : "GELU(approximate='none')";
}

Variable SiLU::forward(const Variable& x) { return ag::silu(x); }
Variable ReLU::forward(const Variable& x) { return ag::relu(x); }
Variable Tanh::forward(const Variable& x) { return ag::tanh(x); }

Dropout::Dropout(double p, Generator& gen) : p_(p), gen_(&gen) {
  VQ_CHECK(ConfigError, p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}
Variable Dropout::forward(const Variable& x) { return dropout(x, p_, is_training(), *gen_); }
std::string Dropout::repr() const { return str_cat("Dropout(p=", p_, ")"); }

}  // namespace vq::nn
