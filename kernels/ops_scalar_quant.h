// Tensor-level API of the scalar quantizers' fused kernels (no autograd): FSQ
// (finite scalar quantization) and LFQ (lookup-free quantization, incl. its spherical
// BSQ mode) forward and backward passes, index <-> code maps, the LFQ commitment and
// entropy terms, and the soft clamp tanh(x / v) * v of the residual variants.
// quantizers/ wraps these in autograd nodes. All ops validate their arguments (errors
// name the op and every shape), run on the inputs' device (CPU or CUDA), take f32
// values and i64 indices (any strides; they call contiguous()), and return contiguous
// tensors. Kernels: kernels/cpu/{fsq,lfq,lfq_entropy}.h and kernels/cuda/{fsq,lfq}.h.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace vq::ops {

// ---------------- FSQ ----------------
// The implicit codebook: per-dimension levels L_j (codebook_dim c = len(levels)), the
// reference's bound variants, and optional per-dimension input divisors and output
// multipliers (ResidualFSQ's scales; empty = none).
struct FsqSpec {
  std::vector<int64_t> levels;
  bool preserve_symmetry = false;
  bool bound_hard_clamp = false;
  // false: fast tanh (max error 1 ulp, vectorized); true: correctly rounded tanh (slow).
  bool exact = false;
  std::vector<float> pre_div;
  std::vector<float> post_mul;
};

// Noise dropout (training with preserve_symmetry): element i of the flat input uses
// Philox counter offset + i of seed (reserve numel counters on a Generator).
struct FsqNoiseSpec {
  double prob = 0.0;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct FsqOutput {
  Tensor codes;    // f32, shape of z: normalized codes in [-1, 1] (times post_mul)
  Tensor indices;  // i64 [..., H] (z's shape with the last dim replaced by H); undefined
                   // when not requested
};

// z: f32 [..., H * c] with H = num_codebooks. One fused pass: bound, round with the
// straight-through value, normalize, index (least significant digit first, int64),
// optional noise dropout (after the index). Throws ShapeError when z's last dim is not
// num_codebooks * len(levels) or z is 0-d, DTypeError for non-f32 z, ConfigError for
// bad levels (see FsqSpec) or noise without preserve_symmetry.
FsqOutput fsq_forward(const Tensor& z, const FsqSpec& spec, int64_t num_codebooks = 1,
                      bool with_indices = true, const FsqNoiseSpec& noise = {});

// dz = grad_codes * d codes / d z (straight-through over the rounding: the derivative of
// the bound, zero outside the clamp range in hard-clamp mode or where noise pushed a code
// out of [-1, 1]). grad_codes and z: f32 of one shape; same spec/noise as the forward.
Tensor fsq_backward(const Tensor& grad_codes, const Tensor& z, const FsqSpec& spec,
                    int64_t num_codebooks = 1, const FsqNoiseSpec& noise = {});

// indices: i64 [...] -> f32 [..., c] (negative indices give zero codes).
Tensor fsq_indices_to_codes(const Tensor& indices, const FsqSpec& spec);
// codes: f32 [..., c] -> i64 [...].
Tensor fsq_codes_to_indices(const Tensor& codes, const FsqSpec& spec);
// indices: i64 [...] -> i64 [..., c], digit j = (index // basis_j) % L_j.
Tensor fsq_indices_to_level_indices(const Tensor& indices, const FsqSpec& spec);
// prod(levels); throws ConfigError when it does not fit in int64.
int64_t fsq_codebook_size(const FsqSpec& spec);

// y = tanh(x / v) * v along the last dim, v per last-dim entry (values.size() == 1 or
// x.size(-1) <= 64 entries). exact selects the correctly rounded tanh.
Tensor soft_clamp(const Tensor& x, const std::vector<float>& values, bool exact = false);
// dx = ((g * v) * (1 - t^2)) / v with t = tanh(x / v), recomputed from x.
Tensor soft_clamp_backward(const Tensor& grad, const Tensor& x, const std::vector<float>& values,
                           bool exact = false);

// ---------------- LFQ ----------------
struct LfqSpec {
  int64_t codebook_dim = 1;        // c = log2(codebook_size), bits per codebook (<= 62)
  double codebook_scale = 1.0;     // codes are +-scale
  bool spherical = false;          // BSQ: normalize inputs and codes, times scale
  double soft_clamp_input_value = 0.0;  // > 0: x -> tanh(x / v) * v first
  bool exact_tanh = false;         // the soft clamp's tanh
};

struct LfqOutput {
  Tensor quantized;  // f32, shape of x (training: a + (q - a); eval: q)
  Tensor indices;    // i64 [..., H], first dimension most significant; undefined if not asked
  Tensor u;          // f32, shape of x: input after soft clamp / spherical normalization
                     // (the reference's "original input"); x itself when neither is on
};

// x: f32 [..., H * c]. act: optional f32 act(u) of x's shape for a non-identity
// straight-through activation (the straight-through value is then act(u) + (q - act(u))).
// Throws ShapeError (last dim != num_codebooks * c, act shape), DTypeError, ConfigError
// (codebook_dim outside [1, 62]).
LfqOutput lfq_forward(const Tensor& x, const LfqSpec& spec, int64_t num_codebooks,
                      bool training, const Tensor& act = Tensor(), bool with_indices = true);

// Mean of (u - q)^2 over the rows selected by row_mask (bool/u8 [rows] where rows =
// u.numel() / (H c); undefined = all), q the (spherical) code of u. Scalar f32 on u's
// device; 0 when nothing is selected (the reference gives NaN: SPEC 23.43).
Tensor lfq_commitment(const Tensor& u, const LfqSpec& spec, int64_t num_codebooks,
                      const Tensor& row_mask = Tensor());

// dx (shape of x) from: grad_out (gradient of quantized; used when ste_to_u, i.e. the
// identity activation), grad_u (extra gradient w.r.t. u, e.g. from the entropy terms;
// may be undefined), and the commitment: grad_commit (scalar f32, d loss / d
// commitment, undefined = none) over the rows of row_mask; then through the spherical
// normalization and the soft clamp.
Tensor lfq_backward(const Tensor& grad_out, const Tensor& grad_u, const Tensor& x,
                    const LfqSpec& spec, int64_t num_codebooks, bool ste_to_u,
                    const Tensor& grad_commit = Tensor(), const Tensor& row_mask = Tensor());

// indices: i64 [...] -> f32 [..., c] (+-scale, spherical normalized; negative -> zeros).
Tensor lfq_indices_to_codes(const Tensor& indices, const LfqSpec& spec);

// How the entropy terms are computed (kernels/cpu/lfq_entropy.h has the math):
//  factorized: the reference's clamped per-sample entropy from the codes with
//              P >= 1e-5 only, avg_probs by a split-bit GEMM (never tokens x codes);
//  exact:      every one of the 2^c codes enumerated per token (parity checks);
//  unclamped:  per-sample entropy = sum of per-bit binary entropies (no 1e-5 clamp:
//              the true entropy, O(c) per token), avg_probs by the GEMM.
enum class LfqEntropyMode { factorized, exact, unclamped };

// Entropy statistics over tokens = rows of u ([N, H * c] viewed from any [..., H * c])
// picked by `rows` (i64 [T], distinct row numbers) or all N rows. Logits
// 2 * inv_temperature * (u . C_k). codebook_dim <= 30.
struct LfqEntropyStats {
  Tensor per_sample_entropy;  // f32 scalar: mean over tokens and codebooks
  Tensor avg_probs;           // f32 [H, 2^c]: mean over tokens of the code distribution
};
LfqEntropyStats lfq_entropy_stats(const Tensor& u, const Tensor& rows, const LfqSpec& spec,
                                  int64_t num_codebooks, double inv_temperature,
                                  LfqEntropyMode mode = LfqEntropyMode::factorized);
// Mean over codebooks of -sum_k p log(max(p, 1e-5)) of avg_probs [H, K]: f32 scalar.
Tensor lfq_batch_entropy(const Tensor& avg_probs);
// Its gradient: grad_batch (f32 scalar) * d batch_entropy / d avg_probs, f32 [H, K]
// (= -grad_batch (log max(p, 1e-5) + [p >= 1e-5]) / H, torch's clamp gradient).
Tensor lfq_batch_entropy_backward(const Tensor& avg_probs, const Tensor& grad_batch);
// du (u's shape, zero outside `rows`) of sum(grad_avg_probs * avg_probs) +
// grad_per_sample * per_sample_entropy, for the avg_probs / per_sample_entropy that
// lfq_entropy_stats computes from (u, rows). grad_avg_probs: f32 [H, 2^c] or undefined;
// grad_per_sample: f32 scalar or undefined.
Tensor lfq_entropy_backward(const Tensor& u, const Tensor& rows, const Tensor& grad_avg_probs,
                            const Tensor& grad_per_sample, const LfqSpec& spec,
                            int64_t num_codebooks, double inv_temperature,
                            LfqEntropyMode mode = LfqEntropyMode::factorized);

}  // namespace vq::ops
