// Fashion-MNIST (Xiao et al. 2017, https://github.com/zalandoresearch/fashion-mnist):
// reader for the IDX gzip files of Debian's dataset-fashion-mnist package, and a
// batcher that shuffles with a vq::Generator, cycles epochs forever and normalizes
// images to [-1, 1] the way the reference examples do (ToTensor + Normalize(0.5, 0.5)).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace vq::data {

enum class Split { train, test };

// Where Debian's dataset-fashion-mnist installs the files.
constexpr const char* kFashionMnistDebianDir = "/usr/share/datasets/fashion-mnist";
// $VQ_FASHION_MNIST_DIR when set and non-empty, else kFashionMnistDebianDir.
std::string default_fashion_mnist_dir();

struct FashionMnist {
  Tensor images;  // u8 [N, 28, 28], CPU, pixel values 0..255
  Tensor labels;  // i64 [N], CPU, class ids 0..9
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from `dir` (60000 train or
// 10000 test examples). Throws IoError naming the file when one is missing (saying to
// install the Debian package dataset-fashion-mnist via scripts/setup), not gzip,
// corrupt or truncated, has a wrong IDX magic/type/rank, images that are not 28x28,
// image and label counts that disagree, or a label outside 0..9.
FashionMnist load_fashion_mnist(Split split, const std::string& dir = default_fashion_mnist_dir());

// The reference examples' pixel normalization, bit-exact with torchvision in f32:
// (x / 255 - 0.5) / 0.5, mapping 0 -> -1 and 255 -> 1.
float normalize_pixel(uint8_t x);

struct Batch {
  Tensor images;  // f32 [B, 1, 28, 28] in [-1, 1], on Options::device
  Tensor labels;  // i64 [B], on Options::device
};

// Iterates over a dataset in batches, forever: each epoch visits every example once
// (in a fresh Fisher-Yates permutation drawn from a Generator seeded with `seed` when
// shuffling, in order otherwise) and the next epoch starts when it is exhausted.
// With drop_last a final batch smaller than batch_size is skipped; without it (the
// default, like torch's DataLoader) the last batch of an epoch may be smaller.
class FashionMnistBatcher {
 public:
  struct Options {
    int64_t batch_size = 256;
    bool shuffle = true;
    bool drop_last = false;
    uint64_t seed = 0;
    Device device = cpu_device();
  };
  // Throws ConfigError on batch_size < 1, an empty dataset, or drop_last with fewer
  // examples than one batch (which would give epochs without batches).
  FashionMnistBatcher(FashionMnist data, Options options);

  Batch next();
  int64_t epoch() const { return epoch_; }  // 0 during the first epoch
  int64_t batches_per_epoch() const;
  // Example indices of the current epoch, in visiting order.
  const std::vector<int64_t>& order() const { return order_; }

 private:
  void start_epoch();

  FashionMnist data_;
  Options opt_;
  Generator gen_;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0;
  int64_t epoch_ = -1;
};

}  // namespace vq::data
