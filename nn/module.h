// Module: the base of layers and quantizers. It owns named parameters (Variables
// that require grad), named buffers (plain Tensors: EMA codebooks, counters) and
// named child modules, in registration order, and gives them PyTorch-style dotted
// names ("project_in.weight", "_codebook.embed") for state_dict()/load_state_dict().
// Modules start in training mode, like PyTorch.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/tensor.h"

namespace vq::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- traversal (recursive, registration order, dotted names) ----
  // A parameter reachable under several names (shared submodules) appears once.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;
  // Persistent and non-persistent buffers; undefined (not yet set) buffers are skipped.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;

  // ---- mode ----
  // Sets training mode here and in every child; calls on_mode_change().
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves parameters and buffers (recursively) to `device`. Parameter Variables keep
  // their identity (optimizers holding them stay valid); gradients are dropped.
  void to(Device device);
  // Clears the gradients of every parameter.
  void zero_grad();

  // ---- checkpoints ----
  // Parameters and persistent buffers under dotted names (values share storage:
  // clone() before modifying). Undefined buffers (set lazily, e.g. the reference's
  // affine batch_mean before the first forward) are omitted, like PyTorch.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in place (casting dtype, moving device). Shapes must match exactly
  // (ShapeError naming the key and both shapes). strict: missing or unexpected keys
  // throw ConfigError listing them; a lazily-set buffer is not "missing".
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // Looks up a direct or dotted parameter / buffer; nullptr when absent.
  Variable* find_parameter(const std::string& dotted);
  Tensor* find_buffer(const std::string& dotted);

 protected:
  // Registers a parameter (requires_grad = true unless told otherwise); returns the
  // handle (shares state with the stored one). Throws ConfigError on a duplicate name.
  Variable register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  // Registers a buffer; returns a pointer that stays valid for the module's lifetime
  // (to() and load_state_dict() update the tensor behind it). An undefined Tensor
  // registers a lazily-set buffer.
  Tensor* register_buffer(const std::string& name, Tensor value, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }
  // Hook for subclasses that cache mode-dependent state.
  virtual void on_mode_change() {}

 private:
  struct BufferSlot {
    std::string name;
    Tensor value;
    bool persistent;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::unique_ptr<BufferSlot>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace vq::nn
