// Tests of apps/data: the real Fashion-MNIST files of Debian's dataset-fashion-mnist
// (installed by scripts/setup; required, not skipped), the batcher (shuffling,
// epochs, drop_last, normalization) and one case per kind of corrupt file, written
// to a temporary directory, each checking the error message.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "apps/data/fashion_mnist.h"
#include "apps/data/idx_gzip.h"

namespace fs = std::filesystem;
using namespace vq;
using namespace vq::data;

namespace {

const FashionMnist& train_set() {
  static const FashionMnist d = load_fashion_mnist(Split::train, kFashionMnistDebianDir);
  return d;
}

fs::path tmp_dir(const std::string& name) {
  fs::path d = fs::path(VQ_BINARY_DIR) / "test_tmp" / "fashion_mnist" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = const_cast<uint8_t*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream o(p, std::ios::binary);
  o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// IDX bytes: magic 00 00 <type> <rank>, big-endian dims, then `payload` bytes of value v.
std::vector<uint8_t> idx(const std::vector<uint32_t>& dims, size_t payload, uint8_t type = 8,
                         uint8_t v = 1) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), payload, v);
  return b;
}

// A tiny test split in `dir`: images and labels from the given raw IDX bytes.
void write_split(const fs::path& dir, const std::vector<uint8_t>& images,
                 const std::vector<uint8_t>& labels) {
  write_file(dir / "t10k-images-idx3-ubyte.gz", gzip_bytes(images));
  write_file(dir / "t10k-labels-idx1-ubyte.gz", gzip_bytes(labels));
}

std::string load_error(const fs::path& dir) {
  try {
    load_fashion_mnist(Split::test, dir.string());
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

#define CHECK_LOAD_FAILS(dir, needle)                         \
  do {                                                        \
    std::string msg_ = load_error(dir);                       \
    INFO("message: ", msg_);                                  \
    CHECK(msg_.find(needle) != std::string::npos);            \
  } while (0)

}  // namespace

TEST_CASE("fashion_mnist: the Debian package's train and test splits load") {
  const FashionMnist& tr = train_set();
  CHECK(tr.images.shape() == Shape{60000, 28, 28});
  CHECK(tr.images.dtype() == DType::u8);
  CHECK(tr.labels.shape() == Shape{60000});
  CHECK(tr.labels.dtype() == DType::i64);
  std::vector<int64_t> lab = tr.labels.to_vector<int64_t>();
  CHECK(std::vector<int64_t>(lab.begin(), lab.begin() + 8) == std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2});
  std::vector<int64_t> count(10, 0);
  for (int64_t l : lab) count[static_cast<size_t>(l)]++;
  CHECK(count == std::vector<int64_t>(10, 6000));
  // Pixel sums computed with Python's gzip + numpy on the same files.
  const uint8_t* px = tr.images.data<uint8_t>();
  int64_t first = 0, total = 0;
  for (int i = 0; i < 784; ++i) first += px[i];
  for (int64_t i = 0; i < tr.images.numel(); ++i) total += px[i];
  CHECK(first == 76247);
  CHECK(total == 3431114169LL);
  CHECK(px[14 * 28 + 12] == 237);

  FashionMnist te = load_fashion_mnist(Split::test);
  CHECK(te.size() == 10000);
  CHECK(te.labels.to_vector<int64_t>()[4] == 6);
}

TEST_CASE("fashion_mnist: normalization equals torchvision ToTensor + Normalize(0.5, 0.5)") {
  CHECK(normalize_pixel(0) == -1.0f);
  CHECK(normalize_pixel(255) == 1.0f);
  CHECK(normalize_pixel(1) == -0.9921568632125854f);
  CHECK(normalize_pixel(127) == -0.003921568393707275f);
  CHECK(normalize_pixel(128) == 0.003921627998352051f);
  CHECK(normalize_pixel(200) == 0.5686274766921997f);
}

TEST_CASE("fashion_mnist: batcher shapes, values and epoch cycling") {
  FashionMnistBatcher::Options o;
  o.batch_size = 256;
  o.seed = 1234;
  FashionMnistBatcher b(train_set(), o);
  CHECK(b.batches_per_epoch() == 235);  // 234 full batches + one of 96
  Batch first = b.next();
  CHECK(first.images.shape() == Shape{256, 1, 28, 28});
  CHECK(first.images.dtype() == DType::f32);
  CHECK(first.labels.shape() == Shape{256});
  CHECK(first.labels.dtype() == DType::i64);
  // Batch contents are the shuffled examples, normalized.
  const std::vector<int64_t> order = b.order();
  const uint8_t* px = train_set().images.data<uint8_t>();
  const int64_t* lab = train_set().labels.data<int64_t>();
  const float* x = first.images.data<float>();
  for (int i : {0, 17, 255}) {
    int64_t k = order[static_cast<size_t>(i)];
    CHECK(first.labels.data<int64_t>()[i] == lab[k]);
    for (int p : {0, 300, 783}) CHECK(x[i * 784 + p] == normalize_pixel(px[k * 784 + p]));
  }
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < first.images.numel(); ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  CHECK(lo == -1.0f);
  CHECK(hi == 1.0f);

  // One epoch is a permutation of all 60000 examples; the last batch is short.
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(sorted.size());
  for (size_t i = 0; i < iota.size(); ++i) iota[i] = static_cast<int64_t>(i);
  CHECK(sorted == iota);
  CHECK(order != sorted);
  Batch last;
  for (int i = 1; i < 235; ++i) last = b.next();
  CHECK(last.images.size(0) == 96);
  CHECK(b.epoch() == 0);
  b.next();
  CHECK(b.epoch() == 1);
  CHECK(b.order() != order);  // a fresh shuffle each epoch
}

TEST_CASE("fashion_mnist: batcher determinism, no-shuffle order and drop_last") {
  FashionMnistBatcher::Options o;
  o.batch_size = 1000;
  o.seed = 7;
  FashionMnistBatcher a(train_set(), o), b(train_set(), o);
  a.next();
  b.next();
  CHECK(a.order() == b.order());
  o.seed = 8;
  FashionMnistBatcher c(train_set(), o);
  c.next();
  CHECK(c.order() != a.order());

  FashionMnist small;
  small.images = train_set().images.narrow(0, 0, 10);
  small.labels = train_set().labels.narrow(0, 0, 10);
  FashionMnistBatcher::Options s;
  s.batch_size = 4;
  s.shuffle = false;
  s.drop_last = true;
  FashionMnistBatcher d(small, s);
  CHECK(d.batches_per_epoch() == 2);
  CHECK(d.next().labels.to_vector<int64_t>() == std::vector<int64_t>{9, 0, 0, 3});
  CHECK(d.next().labels.to_vector<int64_t>() == std::vector<int64_t>{0, 2, 7, 2});
  Batch again = d.next();  // examples 8, 9 dropped; a new epoch starts
  CHECK(d.epoch() == 1);
  CHECK(again.labels.to_vector<int64_t>() == std::vector<int64_t>{9, 0, 0, 3});
  s.drop_last = false;
  FashionMnistBatcher e(small, s);
  e.next();
  e.next();
  CHECK(e.next().labels.size(0) == 2);
  CHECK(e.epoch() == 0);
}

TEST_CASE("fashion_mnist: batcher configuration errors") {
  FashionMnistBatcher::Options o;
  o.batch_size = 0;
  CHECK_THROWS_WITH_AS(FashionMnistBatcher(train_set(), o), doctest::Contains("batch_size must be >= 1"),
                       ConfigError);
  FashionMnist small;
  small.images = train_set().images.narrow(0, 0, 10);
  small.labels = train_set().labels.narrow(0, 0, 10);
  o.batch_size = 11;
  o.drop_last = true;
  CHECK_THROWS_WITH_AS(FashionMnistBatcher(small, o), doctest::Contains("every epoch would be empty"),
                       ConfigError);
  CHECK_THROWS_AS(FashionMnistBatcher(FashionMnist{}, FashionMnistBatcher::Options{}), ConfigError);
}

// ---- missing and corrupt files ----

TEST_CASE("fashion_mnist: a missing file says what to install") {
  fs::path d = tmp_dir("missing");
  std::string msg = load_error(d);
  CHECK(msg.find("t10k-images-idx3-ubyte.gz") != std::string::npos);
  CHECK(msg.find("No such file") != std::string::npos);
  CHECK(msg.find("install Debian package dataset-fashion-mnist (scripts/setup)") != std::string::npos);
}

TEST_CASE("fashion_mnist: gzip errors") {
  fs::path d = tmp_dir("gzip");
  std::vector<uint8_t> good_images = idx({3, 28, 28}, 3 * 784);
  std::vector<uint8_t> good_labels = idx({3}, 3);
  write_split(d, good_images, good_labels);
  REQUIRE(load_fashion_mnist(Split::test, d.string()).size() == 3);
  const fs::path img = d / "t10k-images-idx3-ubyte.gz";

  write_file(img, good_images);  // uncompressed
  CHECK_LOAD_FAILS(d, "not a gzip file");

  std::vector<uint8_t> gz = gzip_bytes(good_images);
  write_file(img, std::vector<uint8_t>(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  CHECK_LOAD_FAILS(d, "gzip stream is truncated");
  write_file(img, std::vector<uint8_t>(gz.begin(), gz.end() - 4));  // trailer cut
  CHECK_LOAD_FAILS(d, "truncated");

  std::vector<uint8_t> bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0xff;  // CRC32 of the trailer
  write_file(img, bad_crc);
  CHECK_LOAD_FAILS(d, "corrupt gzip data (zlib: incorrect data check)");

  std::vector<uint8_t> trailing = gz;
  trailing.insert(trailing.end(), {1, 2, 3});
  write_file(img, trailing);
  CHECK_LOAD_FAILS(d, "3 unexpected bytes after the end of the gzip stream");

  write_file(img, gz);
  CHECK_THROWS_WITH_AS(read_gzip_file(img.string(), 1000), doctest::Contains("decompresses to more than 1000 bytes"),
                       IoError);
}

TEST_CASE("fashion_mnist: IDX format errors") {
  fs::path d = tmp_dir("idx");
  std::vector<uint8_t> labels = idx({3}, 3);
  std::vector<uint8_t> bad_magic = idx({3, 28, 28}, 3 * 784);
  bad_magic[0] = 1;
  write_split(d, bad_magic, labels);
  CHECK_LOAD_FAILS(d, "bad IDX magic number");
  write_split(d, idx({3, 28, 28}, 3 * 784, /*type=*/0x0D), labels);
  CHECK_LOAD_FAILS(d, "IDX element type code 13 is not 8");
  write_split(d, labels, labels);  // a labels file where images belong
  CHECK_LOAD_FAILS(d, "IDX rank is 1, expected 3");
  write_split(d, idx({3, 32, 32}, 3 * 1024), labels);
  CHECK_LOAD_FAILS(d, "images are 32x32, expected 28x28");
  write_split(d, idx({3, 28, 28}, 3 * 784 - 1), labels);
  CHECK_LOAD_FAILS(d, "need 2352 (truncated)");
  write_split(d, idx({3, 28, 28}, 3 * 784 + 5), labels);
  CHECK_LOAD_FAILS(d, "need only 2352 (trailing data)");
  write_split(d, idx({0, 28, 28}, 0), labels);
  CHECK_LOAD_FAILS(d, "IDX dimension 0 is zero");
  write_split(d, std::vector<uint8_t>{0, 0, 8, 3, 0, 0}, labels);
  CHECK_LOAD_FAILS(d, "too short for its 16-byte header");
}

TEST_CASE("fashion_mnist: label errors") {
  fs::path d = tmp_dir("labels");
  write_split(d, idx({3, 28, 28}, 3 * 784), idx({4}, 4));
  CHECK_LOAD_FAILS(d, "holds 4 labels but");
  write_split(d, idx({3, 28, 28}, 3 * 784), idx({3}, 3, 8, /*value=*/10));
  CHECK_LOAD_FAILS(d, "label 0 is 10, outside the classes 0..9");
}
