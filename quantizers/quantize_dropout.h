// Quantize dropout (SPEC.md 4.4), the rule shared by every residual quantizer
// (ResidualVQ, ResidualFSQ, ResidualLFQ, ResidualSimVQ and their grouped forms): in
// training a random depth t is drawn and layers 0..t run while deeper layers are
// skipped (index -1, loss 0). The seed is an integer drawn in [0, 10000) and summed
// over ranks (so every rank drops at the same depth); the depth is what Python's
// random.Random(seed).randrange(cutoff, q) returns, reproduced bit-exactly (MT19937
// seeded by init_by_array), then rounded up to a multiple. A caller that passes the
// same seed as the reference's rand_quantize_dropout_fixed_seed gets the same depth.
// Typical use inside a residual forward:
//   std::optional<int64_t> last;  // index of the last layer that runs
//   if (is_training() && dropout.active(q))
//     last = dropout.last_layer(seed ? *seed : draw_quantize_dropout_seed(gen, *comm), q);
#pragma once
#include <cstdint>
#include <string>

#include "core/generator.h"
#include "dist/comm.h"

namespace vq {

// Python's random.Random: MT19937 with CPython's seeding of non-negative integers.
// Only the pieces the dropout rule needs.
class PyRandom {
 public:
  explicit PyRandom(uint64_t seed);
  uint32_t next_u32();                             // genrand_uint32
  uint32_t getrandbits(int k);                     // 0 <= k <= 32
  int64_t randrange(int64_t start, int64_t stop);  // stop - start in [1, 2^32]; else ConfigError

 private:
  uint32_t mt_[624];
  int index_ = 624;
};

struct QuantizeDropout {
  bool enabled = false;      // quantize_dropout
  int64_t cutoff_index = 0;  // quantize_dropout_cutoff_index: smallest depth drawn (>= 0)
  int64_t multiple_of = 1;   // quantize_dropout_multiple_of: structured dropout (>= 1)

  // Throws ConfigError naming the option for cutoff_index < 0, multiple_of < 1 or,
  // when enabled with q > 1, cutoff_index >= q (nothing to draw from).
  void validate(const std::string& module, int64_t num_quantizers) const;
  // Whether dropout applies at all (the reference keeps it only when q > 1).
  bool active(int64_t num_quantizers) const { return enabled && num_quantizers > 1; }
  // Index of the last layer that runs, for seed: t = randrange(cutoff, q), then
  // ceil((t + 1) / multiple_of) * multiple_of - 1 (may reach past q - 1: nothing dropped).
  int64_t last_layer(uint64_t seed, int64_t num_quantizers) const;
};

// SPEC 4.4 step 1: an integer uniform in [0, 10000) from gen, summed over the ranks of
// comm (one all-reduce of an i64 scalar when distributed), so all ranks agree.
int64_t draw_quantize_dropout_seed(Generator& gen, dist::Comm& comm);

}  // namespace vq
