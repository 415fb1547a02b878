// Fashion-MNIST: loading the Debian package's IDX gzip files, and the shuffling,
// epoch-cycling batcher with the reference examples' [-1, 1] normalization.
#include "apps/data/fashion_mnist.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "apps/data/idx_gzip.h"

namespace vq::data {
namespace {

constexpr const char* kInstallHint =
    "install Debian package dataset-fashion-mnist (scripts/setup), or set VQ_FASHION_MNIST_DIR";

// Unbiased integer in [0, n) by rejection (n >= 1).
uint64_t uniform_below(Generator& gen, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = gen.next_u64(); while (x >= limit);
  return x % n;
}

}  // namespace

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("VQ_FASHION_MNIST_DIR");
  return env && *env ? std::string(env) : std::string(kFashionMnistDebianDir);
}

float normalize_pixel(uint8_t x) {
  float v = static_cast<float>(x) / 255.0f;  // torchvision ToTensor
  return (v - 0.5f) / 0.5f;                  // Normalize((0.5,), (0.5,))
}

FashionMnist load_fashion_mnist(Split split, const std::string& dir) {
  const std::string prefix = dir + "/" + (split == Split::train ? "train" : "t10k");
  const std::string img_path = prefix + "-images-idx3-ubyte.gz";
  const std::string lbl_path = prefix + "-labels-idx1-ubyte.gz";
  constexpr size_t kMax = size_t(256) << 20;  // the train images inflate to ~47 MB

  std::vector<uint8_t> raw = read_gzip_file(img_path, kMax, kInstallHint);
  Tensor images = parse_idx_u8(raw.data(), raw.size(), 3, img_path);
  if (images.size(1) != 28 || images.size(2) != 28)
    throw IoError(str_cat("'", img_path, "': images are ", images.size(1), "x", images.size(2),
                          ", expected 28x28"));
  raw = read_gzip_file(lbl_path, kMax, kInstallHint);
  Tensor labels_u8 = parse_idx_u8(raw.data(), raw.size(), 1, lbl_path);
  const int64_t n = images.size(0);
  if (labels_u8.size(0) != n)
    throw IoError(str_cat("'", lbl_path, "' holds ", labels_u8.size(0), " labels but '", img_path,
                          "' holds ", n, " images"));
  FashionMnist out;
  out.images = images;
  out.labels = Tensor::empty({n}, DType::i64, cpu_device());
  const uint8_t* src = labels_u8.data<uint8_t>();
  int64_t* dst = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (src[i] > 9)
      throw IoError(str_cat("'", lbl_path, "': label ", i, " is ", int(src[i]),
                            ", outside the classes 0..9"));
    dst[i] = src[i];
  }
  return out;
}

FashionMnistBatcher::FashionMnistBatcher(FashionMnist data, Options options)
    : data_(std::move(data)), opt_(options), gen_(options.seed) {
  check<ConfigError>(opt_.batch_size >= 1, "FashionMnistBatcher: batch_size must be >= 1, got ",
                     opt_.batch_size);
  check<ConfigError>(data_.size() > 0, "FashionMnistBatcher: the dataset is empty");
  check<ConfigError>(!opt_.drop_last || data_.size() >= opt_.batch_size,
                     "FashionMnistBatcher: drop_last with batch_size=", opt_.batch_size,
                     " but only ", data_.size(), " examples: every epoch would be empty");
  check<ShapeError>(data_.images.dim() == 3 && data_.images.size(1) == 28 &&
                        data_.images.size(2) == 28 && data_.images.dtype() == DType::u8,
                    "FashionMnistBatcher: images must be u8 [N, 28, 28], got ",
                    data_.images.str());
  check<ShapeError>(data_.labels.dim() == 1 && data_.labels.size(0) == data_.size() &&
                        data_.labels.dtype() == DType::i64,
                    "FashionMnistBatcher: labels must be i64 [N] with N=", data_.size(), ", got ",
                    data_.labels.str());
  data_.images = data_.images.to(cpu_device()).contiguous();
  data_.labels = data_.labels.to(cpu_device()).contiguous();
}

int64_t FashionMnistBatcher::batches_per_epoch() const {
  int64_t n = data_.size(), b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

void FashionMnistBatcher::start_epoch() {
  const int64_t n = data_.size();
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (opt_.shuffle)
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order_[i], order_[uniform_below(gen_, static_cast<uint64_t>(i) + 1)]);
  cursor_ = 0;
  ++epoch_;
}

Batch FashionMnistBatcher::next() {
  const int64_t n = data_.size();
  const int64_t need = opt_.drop_last ? opt_.batch_size : 1;
  if (epoch_ < 0 || cursor_ + need > n) start_epoch();
  const int64_t b = std::min(opt_.batch_size, n - cursor_);

  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = normalize_pixel(static_cast<uint8_t>(v));
  Tensor images = Tensor::empty({b, 1, 28, 28}, DType::f32, cpu_device());
  Tensor labels = Tensor::empty({b}, DType::i64, cpu_device());
  const uint8_t* src = data_.images.data<uint8_t>();
  const int64_t* lsrc = data_.labels.data<int64_t>();
  float* dst = images.data<float>();
  int64_t* ldst = labels.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t k = order_[static_cast<size_t>(cursor_ + i)];
    const uint8_t* s = src + k * 784;
    float* d = dst + i * 784;
    for (int p = 0; p < 784; ++p) d[p] = lut[s[p]];
    ldst[i] = lsrc[k];
  }
  cursor_ += b;
  return Batch{images.to(opt_.device), labels.to(opt_.device)};
}

}  // namespace vq::data
