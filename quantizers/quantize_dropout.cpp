// Quantize dropout: Python-compatible MT19937 and the depth rule (see quantize_dropout.h).
#include "quantizers/quantize_dropout.h"

#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace vq {

namespace {
constexpr int kN = 624, kM = 397;
}

// CPython's random_seed for an int: the key is |seed| as little-endian 32-bit words
// (at least one word), fed to init_by_array.
PyRandom::PyRandom(uint64_t seed) {
  std::vector<uint32_t> key{static_cast<uint32_t>(seed & 0xffffffffu)};
  if (seed >> 32) key.push_back(static_cast<uint32_t>(seed >> 32));
  // init_genrand(19650218)
  mt_[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  // init_by_array(key)
  int i = 1, j = 0;
  const int len = static_cast<int>(key.size());
  for (int k = kN > len ? kN : len; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= len) j = 0;
  }
  for (int k = kN - 1; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  index_ = kN;
}

uint32_t PyRandom::next_u32() {
  if (index_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % kN] & 0x7fffffffu);
      mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint32_t PyRandom::getrandbits(int k) {
  check<ConfigError>(k >= 0 && k <= 32, "PyRandom: getrandbits supports 0..32 bits, got ", k);
  if (k == 0) return 0;
  return next_u32() >> (32 - k);
}

// randrange(start, stop) = start + _randbelow(stop - start), where _randbelow(n) draws
// getrandbits(n.bit_length()) until the value is below n.
int64_t PyRandom::randrange(int64_t start, int64_t stop) {
  const int64_t n = stop - start;
  check<ConfigError>(n >= 1 && n <= (int64_t(1) << 32), "PyRandom: empty or too wide range for randrange(", start, ", ",
                     stop, ")");
  int k = 0;
  while ((n >> k) != 0) ++k;
  uint64_t r = getrandbits(k);
  while (static_cast<int64_t>(r) >= n) r = getrandbits(k);
  return start + static_cast<int64_t>(r);
}

void QuantizeDropout::validate(const std::string& module, int64_t q) const {
  check<ConfigError>(cutoff_index >= 0, module, ": quantize_dropout_cutoff_index must be >= 0, got ", cutoff_index);
  check<ConfigError>(multiple_of >= 1, module, ": quantize_dropout_multiple_of must be >= 1, got ", multiple_of);
  check<ConfigError>(!active(q) || cutoff_index < q, module, ": quantize_dropout_cutoff_index (", cutoff_index,
                     ") must be below num_quantizers (", q, ")");
}

int64_t QuantizeDropout::last_layer(uint64_t seed, int64_t q) const {
  PyRandom rng(seed);
  int64_t t = rng.randrange(cutoff_index, q);
  if (multiple_of != 1) t = ((t + 1 + multiple_of - 1) / multiple_of) * multiple_of - 1;
  return t;
}

int64_t draw_quantize_dropout_seed(Generator& gen, dist::Comm& comm) {
  int64_t local = static_cast<int64_t>(gen.next_u64() % 10000u);
  if (!comm.distributed()) return local;
  Tensor t = Tensor::from_vector(std::vector<int64_t>{local}, Shape{});
  comm.all_reduce_sum(t);
  return t.item<int64_t>();
}

}  // namespace vq
