// Pieces shared by the scalar quantizers (FSQ, LFQ and their residual / grouped
// families): the channel-first <-> (b, n, d) layout moves, a ModuleList, the
// orthogonal rotation, the
// straight-through activations LFQ accepts by name, and the autograd
// functions wrapping the fused kernels of kernels/ops_scalar_quant.h (one node per
// fused forward; its backward is the fused backward kernel).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "core/generator.h"
#include "dist/comm.h"
#include "kernels/ops_scalar_quant.h"
#include "nn/module.h"

namespace vq::sq {

// The reference's nn.ModuleList: children named "0", "1", ... (state keys "layers.0.x").
class ModuleList : public nn::Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(n_++), m);
  }
  int64_t size() const { return n_; }

 private:
  int64_t n_ = 0;
};

// ---------------- layout ----------------
struct SeqLayout {
  bool moved = false;  // the input was (b, d, ...) and was moved to (b, N, d)
  Shape spatial;       // the "..." extents (N = their product)
};
// (b, d, ...) -> (b, N, d) when `move`; otherwise x is returned as is. `what` names the
// module in errors (ShapeError when a moved input has rank < 3).
Variable to_sequence(const Variable& x, bool move, SeqLayout* layout, const char* what);
// (b, N, d) -> (b, d, ...) when layout.moved.
Variable from_sequence(const Variable& y, const SeqLayout& layout);
Tensor from_sequence(const Tensor& y, const SeqLayout& layout);
// Indices (b, N, k...) -> (b, ..., k...) when layout.moved.
Tensor indices_from_sequence(const Tensor& idx, const SeqLayout& layout);
// Moves the last axis of t to position 1 (the reference's 'b ... d -> b d ...').
Tensor last_to_channel(const Tensor& t);

// ---------------- small shared helpers ----------------
// Smallest c >= 0 with 2^c >= k (log2 of a power of two k); k <= 2^62.
int64_t log2_ceil(int64_t k);
// FSQ's mixed-radix index of per-dimension levels (first dimension least significant):
// level_indices i64 [..., c] (c == levels.size()) -> i64 [...], sum_j lvl_j * prod(L_<j),
// in integers on level_indices' device (FSP; FSQ has it fused in its kernel).
// ShapeError when the last axis is not c.
Tensor mixed_radix_index(const Tensor& level_indices, const std::vector<int64_t>& levels);
// orthogonal_rotation: a (c, c) f32 CPU matrix from nn::init::orthogonal_ (gain 1) on gen.
Tensor random_orthogonal(int64_t c, Generator& gen);
// z [..., c] -> z @ R over the last axis (R^T when inverse), R (c, c) moved to z's
// device; z itself when R is null.
Variable rotate_last(const Variable& z, const Tensor* R, bool inverse);

// ---------------- straight-through activation (LFQ) ----------------
enum class SteActivation { identity, tanh, sigmoid, relu, silu, gelu };
// Accepts torch class names ("Identity", "Tanh", "Sigmoid", "ReLU", "SiLU", "GELU") and
// lower-case forms; ConfigError naming `module` and the allowed values otherwise.
SteActivation parse_activation(const std::string& name, const char* module);
Variable apply_activation(SteActivation a, const Variable& x);

// ---------------- autograd functions over the fused kernels ----------------
struct FsqResult {
  Variable codes;  // f32, z's shape; gradient: the bound's derivative (straight-through round)
  Tensor indices;  // i64 [..., H] (undefined without indices)
};
// z [..., H * c] -> one "FSQ" node (backward: ops::fsq_backward).
FsqResult fsq_quantize(const Variable& z, const ops::FsqSpec& spec, int64_t H, bool with_indices,
                       const ops::FsqNoiseSpec& noise);

// y = tanh(x / v) * v per last-dim entry (values: 1 or x.size(-1) entries); one node.
Variable soft_clamp(const Variable& x, const std::vector<float>& values, bool exact);

struct LfqQuantResult {
  Variable quantized;  // training: act(u) + (q - act(u)), gradient to act(u); eval: q (no grad)
  Variable u;          // the transformed input (soft clamp / spherical); x when untransformed
  Tensor indices;      // i64 [..., H]
};
// x [..., H * c]: one "LFQ.transform" node (if spec transforms) and one
// "LFQ.straight_through" node (training).
LfqQuantResult lfq_quantize(const Variable& x, const ops::LfqSpec& spec, int64_t H, bool training,
                            SteActivation act);

struct LfqEntropyResult {
  Variable per_sample;  // scalar
  Variable avg_probs;   // [H, 2^c]
};
// Entropy statistics of the rows of u ([N, H * c]) picked by rows (i64 or undefined);
// one "LFQ.entropy" node (backward: ops::lfq_entropy_backward) for both outputs.
LfqEntropyResult lfq_entropy(const Variable& u, const Tensor& rows, const ops::LfqSpec& spec,
                             int64_t H, double inv_temperature, ops::LfqEntropyMode mode);
// Mean over codebooks of the clamped entropy of avg [H, K]; one node.
Variable lfq_batch_entropy(const Variable& avg);
// all_reduce(t) / world size with the gradient all-reduced the same way (torch's
// distributed.nn.all_reduce followed by a division). Identity for one process.
Variable all_reduce_mean(const Variable& t, const std::shared_ptr<dist::Comm>& comm);

}  // namespace vq::sq
