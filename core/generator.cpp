// Generator host helpers and the process-wide default generator.
#include "core/generator.h"

#include "core/philox.h"

namespace vq {

uint32_t Generator::next_u32() { return philox4x32(seed_, reserve(1)).v[0]; }

uint64_t Generator::next_u64() {
  Philox4 r = philox4x32(seed_, reserve(1));
  return (static_cast<uint64_t>(r.v[1]) << 32) | r.v[0];
}

float Generator::next_uniform() { return philox_uniform(next_u32()); }

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace vq
