// Tests of apps/train: the examples' autoencoder (layers, state_dict names, shapes),
// code statistics, the PNG encoder and canvas, progress lines, the loss-curve CSV,
// staged output folders, checkpoints, and short real training runs on Fashion-MNIST
// (the loss goes down, the same seed gives the same run, every output file exists and
// parses, the checkpoint reproduces the test loss).
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/data/fashion_mnist.h"
#include "apps/train/figures.h"
#include "apps/train/model.h"
#include "apps/train/png.h"
#include "apps/train/progress.h"
#include "apps/train/run.h"
#include "apps/train/run_files.h"
#include "apps/train/trainer.h"
#include "apps/train/upsample_conv.h"
#include "autograd/functions.h"
#include "core/safetensors.h"
#include "kernels/ops.h"
#include "nn/functional.h"

namespace fs = std::filesystem;
using namespace vq;
using namespace vq::app;

namespace {

fs::path tmp_dir(const std::string& name) {
  fs::path d = fs::path(VQ_BINARY_DIR) / "test_tmp" / ("train-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d.parent_path());
  return d;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// Parses a PNG written by encode_png: checks the signature and every chunk's CRC,
// returns width, height, colour type and the inflated scanlines.
struct Png {
  uint32_t width = 0, height = 0;
  int colour = -1;
  std::string raw;
};
Png parse_png(const std::string& s) {
  Png p;
  REQUIRE(s.size() > 8);
  REQUIRE(s.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  std::string idat;
  size_t at = 8;
  bool end = false;
  while (at + 12 <= s.size() && !end) {
    uint32_t len = be32(s, at);
    std::string type = s.substr(at + 4, 4);
    REQUIRE(at + 12 + len <= s.size());
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(s.data() + at + 4), len + 4);
    CHECK(uint32_t(crc) == be32(s, at + 8 + len));
    if (type == "IHDR") {
      p.width = be32(s, at + 8);
      p.height = be32(s, at + 12);
      CHECK(uint8_t(s[at + 16]) == 8);
      p.colour = uint8_t(s[at + 17]);
    } else if (type == "IDAT") {
      idat += s.substr(at + 8, len);
    } else if (type == "IEND") {
      end = true;
    }
    at += 12 + len;
  }
  CHECK(end);
  CHECK(at == s.size());
  const int channels = p.colour == 0 ? 1 : 3;
  uLongf n = static_cast<uLongf>(p.height) * (p.width * channels + 1);
  p.raw.resize(n);
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(&p.raw[0]), &n,
                     reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) == Z_OK);
  CHECK(n == p.raw.size());
  return p;
}

const data::FashionMnist& train_set() {
  static const data::FashionMnist d =
      data::load_fashion_mnist(data::Split::train, data::kFashionMnistDebianDir);
  return d;
}

}  // namespace

TEST_CASE("train: ModelOptions per quantizer follow the examples") {
  ModelOptions m;
  CHECK(m.quantizer_module() == "VectorQuantize");
  CHECK(m.num_codes() == 256);
  CHECK(m.aux_weight() == 10.0);
  CHECK(m.latent_dim() == 32);
  CHECK(m.quantizer_config() == nlohmann::json{{"dim", 32}, {"codebook_size", 256},
                                               {"accept_image_fmap", true},
                                               {"rotation_trick", true},
                                               {"straight_through", false}});
  m.quantizer = QuantizerKind::fsq;
  CHECK(m.num_codes() == 240);
  CHECK(m.aux_weight() == 0.0);
  CHECK(m.latent_dim() == 3);
  CHECK(m.quantizer_config() == nlohmann::json{{"levels", {8, 6, 5}}});
  m.quantizer = QuantizerKind::lfq;
  CHECK(m.latent_dim() == 8);
  CHECK(m.aux_weight() == 1.0);
  CHECK(m.quantizer_config().at("entropy_loss_weight") == 0.02);
  CHECK(m.quantizer_config().at("spherical") == true);
  CHECK(ModelOptions::from_json(m.to_json()).to_json() == m.to_json());

  CHECK_THROWS_WITH_AS(parse_quantizer_kind("rvq"), doctest::Contains("choose vq, fsq or lfq"),
                       ConfigError);
  m.codebook_size = 100;
  CHECK_THROWS_WITH_AS(m.validate(), doctest::Contains("power of 2 for lfq"), ConfigError);
  m.quantizer = QuantizerKind::fsq;
  m.levels = {8, 1};
  CHECK_THROWS_WITH_AS(m.validate(), doctest::Contains("each level must be in [2, 65536]"),
                       ConfigError);
  m.levels = {256, 256, 2};
  CHECK_THROWS_WITH_AS(m.validate(), doctest::Contains("must be at most 65536"), ConfigError);
  CHECK_THROWS_WITH_AS(ModelOptions::from_json({{"quantizer", "vq"}}),
                       doctest::Contains("model options"), ConfigError);
}

TEST_CASE("train: the VQ autoencoder has the example's layers under utils.Sequential names") {
  Generator gen(3);
  AutoEncoder model(ModelOptions{}, gen);
  std::map<std::string, Shape> params;
  for (const auto& kv : model.named_parameters()) params[kv.first] = kv.second.shape();
  const std::map<std::string, Shape> expect = {
      {"fns.0.weight", {16, 1, 3, 3}},  {"fns.0.bias", {16}},   {"fns.3.weight", {32, 16, 3, 3}},
      {"fns.3.bias", {32}},             {"fns.7.weight", {16, 32, 3, 3}}, {"fns.7.bias", {16}},
      {"fns.10.weight", {1, 16, 3, 3}}, {"fns.10.bias", {1}}};
  CHECK(params == expect);
  auto sd = model.state_dict();
  CHECK(sd.count("fns.5._codebook.embed"));
  CHECK(sd.at("fns.5._codebook.embed").shape() == Shape{1, 256, 32});

  Tensor x = ops::clamp(Tensor::randn({3, 1, 28, 28}, gen), -1.0, 1.0);
  AutoEncoder::Output out = model.forward(Variable(x));
  CHECK(out.reconstruction.shape() == Shape{3, 1, 28, 28});
  CHECK(out.indices.shape() == Shape{3, 7, 7});
  CHECK(out.aux_loss.dim() == 0);
  for (float v : out.reconstruction.value().to_vector<float>()) CHECK((v >= -1.f && v <= 1.f));
  CHECK(model.encode_indices(Variable(x)).shape() == Shape{3, 7, 7});
  CHECK_THROWS_WITH_AS(model.forward(Variable(Tensor::zeros({2, 3, 28, 28}))),
                       doctest::Contains("AutoEncoder: input must be [B, 1, 28, 28], got"),
                       ShapeError);
}

TEST_CASE("train: FSQ and LFQ autoencoders have the examples' extra layers") {
  Generator gen(4);
  ModelOptions f;
  f.quantizer = QuantizerKind::fsq;
  AutoEncoder fsq(f, gen);
  std::set<std::string> names;
  for (const auto& kv : fsq.named_parameters()) names.insert(kv.first);
  // Conv1x1(32->3) at 5, FSQ at 6, Conv3x3(3->32) at 7, ..., last conv at 12.
  CHECK(names.count("fns.5.weight"));
  CHECK(fsq.state_dict().at("fns.5.weight").shape() == Shape{3, 32, 1, 1});
  CHECK(fsq.state_dict().at("fns.7.weight").shape() == Shape{32, 3, 3, 3});
  CHECK(fsq.state_dict().at("fns.12.weight").shape() == Shape{1, 16, 3, 3});
  Tensor x = Tensor::zeros({2, 1, 28, 28});
  auto out = fsq.forward(Variable(x));
  CHECK(out.indices.shape() == Shape{2, 7, 7});
  CHECK(out.aux_loss.value().item<float>() == 0.f);

  ModelOptions l;
  l.quantizer = QuantizerKind::lfq;
  AutoEncoder lfq(l, gen);
  // GroupNorm(4, 32, affine=False) at 5 has no parameters; Conv1x1(32->8) at 6.
  CHECK(lfq.state_dict().count("fns.5.weight") == 0);
  CHECK(lfq.state_dict().at("fns.6.weight").shape() == Shape{8, 32, 1, 1});
  CHECK(lfq.state_dict().at("fns.8.weight").shape() == Shape{32, 8, 3, 3});
  auto lo = lfq.forward(Variable(ops::clamp(Tensor::randn({2, 1, 28, 28}, gen), -1.0, 1.0)));
  CHECK(lo.indices.shape() == Shape{2, 7, 7});
  for (int64_t i : lo.indices.to_vector<int64_t>()) CHECK((i >= 0 && i < 256));
}

TEST_CASE("train: upsample2x_conv3x3 equals upsample then conv, values and gradients") {
  Generator gen(11);
  for (bool with_bias : {true, false}) {
    Tensor xv = Tensor::randn({2, 3, 4, 5}, gen), wv = Tensor::randn({2, 3, 3, 3}, gen);
    Tensor bv = Tensor::randn({2}, gen), gv = Tensor::randn({2, 2, 8, 10}, gen);
    Variable x1(xv.clone(), true), w1(wv.clone(), true), b1(bv.clone(), true);
    Variable x2(xv.clone(), true), w2(wv.clone(), true), b2(bv.clone(), true);
    Variable fused = upsample2x_conv3x3(x1, w1, with_bias ? b1 : Variable());
    Variable plain = nn::conv2d(nn::upsample_nearest2d(x2, {2, 2}), w2, with_bias ? b2 : Variable(),
                                {1, 1}, {1, 1});
    REQUIRE(fused.shape() == Shape{2, 2, 8, 10});
    auto close = [](const Tensor& a, const Tensor& b) {
      auto va = a.to_vector<float>(), vb = b.to_vector<float>();
      REQUIRE(va.size() == vb.size());
      for (size_t i = 0; i < va.size(); ++i) CHECK(va[i] == doctest::Approx(vb[i]).epsilon(1e-4).scale(1));
    };
    close(fused.value(), plain.value());
    ag::sum(ag::mul(fused, Variable(gv))).backward();
    ag::sum(ag::mul(plain, Variable(gv))).backward();
    close(x1.grad(), x2.grad());
    close(w1.grad(), w2.grad());
    if (with_bias) close(b1.grad(), b2.grad());
  }
  // Hand-checked: a single 1 at input (1, 1) upsamples to ones at rows 2..3, columns
  // 2..3 of the 6x6 image; an all-ones 3x3 kernel counts the ones in each output
  // pixel's 3x3 neighbourhood.
  Variable x(Tensor::from_vector({0.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f}, {1, 1, 3, 3}));
  Variable w(Tensor::ones({1, 1, 3, 3}));
  std::vector<float> y = upsample2x_conv3x3(x, w, Variable()).value().to_vector<float>();
  const std::vector<float> row1 = {0, 1, 2, 2, 1, 0};
  for (int c = 0; c < 6; ++c) CHECK(y[6 + c] == row1[c]);
  const std::vector<float> row2 = {0, 2, 4, 4, 2, 0};
  for (int c = 0; c < 6; ++c) CHECK(y[12 + c] == row2[c]);
  CHECK_THROWS_WITH_AS(upsample2x_conv3x3(x, Variable(Tensor::ones({1, 1, 2, 2})), Variable()),
                       doctest::Contains("upsample2x_conv3x3: expected x [B, C, H, W] and weight [O, C, 3, 3]"),
                       ShapeError);
}

TEST_CASE("train: the fused decoder gives the same model output as the layer-by-layer one") {
  Generator gen(5);
  for (QuantizerKind k : {QuantizerKind::vq, QuantizerKind::fsq}) {
    ModelOptions mo;
    mo.quantizer = k;
    AutoEncoder m(mo, gen);
    m.eval();
    Tensor x = ops::clamp(Tensor::randn({2, 1, 28, 28}, gen), -1.0, 1.0);
    CHECK(m.fuse_upsample());
    std::vector<float> a = m.forward(Variable(x)).reconstruction.value().to_vector<float>();
    m.set_fuse_upsample(false);
    std::vector<float> b = m.forward(Variable(x)).reconstruction.value().to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-4).scale(1));
  }
}

TEST_CASE("train: code_stats counts, active fraction and perplexity") {
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{0, 0, 1, 3}, {2, 2});
  CodeStats s = code_stats(idx, 4);
  CHECK(s.counts == std::vector<int64_t>{2, 1, 0, 1});
  CHECK(s.active == 3);
  CHECK(s.active_fraction == doctest::Approx(0.75));
  // entropy of (1/2, 1/4, 1/4) = 1.5 ln 2 -> perplexity 2^1.5
  CHECK(s.perplexity == doctest::Approx(std::pow(2.0, 1.5)));
  add_code_stats(s, Tensor::from_vector(std::vector<int64_t>{2, 2}, {2}));
  CHECK(s.counts == std::vector<int64_t>{2, 1, 2, 1});
  CHECK(s.active == 4);
  CHECK_THROWS_WITH_AS(code_stats(Tensor::from_vector(std::vector<int64_t>{4}, {1}), 4),
                       doctest::Contains("code_stats: index 4 outside [0, 4)"), ConfigError);
  CHECK_THROWS_WITH_AS(code_stats(Tensor::zeros({2}), 4),
                       doctest::Contains("code_stats: indices must be i64"), DTypeError);
}

TEST_CASE("train: encode_png writes valid grayscale and RGB files") {
  std::vector<uint8_t> gray = {0, 64, 128, 255, 1, 2};  // 3 x 2
  std::vector<uint8_t> bytes = encode_png(3, 2, 1, gray);
  Png p = parse_png(std::string(bytes.begin(), bytes.end()));
  CHECK(p.width == 3);
  CHECK(p.height == 2);
  CHECK(p.colour == 0);
  CHECK(p.raw == std::string("\0\0\x40\x80\0\xff\x01\x02", 8));

  Canvas c(4, 3, {10, 20, 30});
  c.set(1, 2, {255, 0, 7});
  c.fill_rect(-5, -5, 1, 1, {1, 2, 3});  // clipped to pixel (0, 0)
  CHECK(c.get(1, 2).r == 255);
  CHECK(c.get(0, 0).g == 2);
  CHECK(c.get(9, 9).r == 0);
  Png q = parse_png([&] { auto b = c.png(); return std::string(b.begin(), b.end()); }());
  CHECK(q.colour == 2);
  CHECK(q.width == 4);
  CHECK(q.raw.size() == 3 * (4 * 3 + 1));
  CHECK(uint8_t(q.raw[2 * 13 + 1 + 3]) == 255);  // row 2, pixel 1, red
  CHECK(uint8_t(q.raw[2 * 13 + 1 + 5]) == 7);

  CHECK_THROWS_WITH_AS(encode_png(3, 2, 1, {1, 2}), doctest::Contains("expected 6 bytes"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(encode_png(3, 2, 4, gray), doctest::Contains("channels must be 1 or 3"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(Canvas(0, 5), doctest::Contains("size 0x5 outside"), ConfigError);
}

TEST_CASE("train: canvas text and lines") {
  Canvas c(20, 10, {255, 255, 255});
  c.text(0, 0, "1", {0, 0, 0});
  // '1' row 0 is 0x04: only column 2 set
  CHECK(c.get(2, 0).r == 0);
  CHECK(c.get(1, 0).r == 255);
  CHECK(c.get(3, 0).r == 255);
  CHECK(Canvas::text_width("abc", 2) == 36);
  Canvas d(10, 10, {255, 255, 255});
  d.line(0, 0, 9, 9, {0, 0, 0});
  for (int i = 0; i < 10; ++i) CHECK(d.get(i, i).r == 0);
  CHECK(d.get(0, 9).r == 255);
}

TEST_CASE("train: figures have the expected sizes") {
  Tensor a = Tensor::full({5, 1, 28, 28}, -1.0), b = Tensor::full({5, 1, 28, 28}, 1.0);
  Canvas r = reconstructions_figure(a, b, 4, "t");
  // 2 pairs of rows of 3x magnified images
  CHECK(r.width() == 64 + 4 * (84 + 2) + 8);
  CHECK(r.height() == 26 + 2 * (2 * (84 + 2) + 10) + 4);
  CHECK(r.get(64, 26).r == 0);          // first test image, black (-1)
  CHECK(r.get(64, 26 + 86).r == 255);   // its reconstruction, white (+1)
  CHECK_THROWS_WITH_AS(reconstructions_figure(a, Tensor::zeros({4, 1, 28, 28}), 4, "t"),
                       doctest::Contains("reconstructions_figure: expected two f32"), ShapeError);
  CodeStats s;
  s.counts = {5, 0, 3};
  Canvas h = code_usage_figure(s, "codes");
  CHECK(h.width() > 100);
  CHECK_THROWS_WITH_AS(code_usage_figure(CodeStats{}, "x"), doctest::Contains("no codes"),
                       ConfigError);
  std::vector<StepRecord> curve(3);
  for (int i = 0; i < 3; ++i) curve[i].step = i + 1, curve[i].rec_loss = 1.0 / (i + 1);
  CHECK(loss_curve_figure(curve, "loss").height() > 100);
  CHECK_THROWS_WITH_AS(loss_curve_figure({}, "x"), doctest::Contains("no steps"), ConfigError);
}

TEST_CASE("train: progress log lines, status and clock") {
  CHECK(Progress::clock(65) == "1:05");
  CHECK(Progress::clock(3723) == "1:02:03");
  CHECK(Progress::clock(NAN) == "?");
  std::ostringstream os;
  Progress p(os, 20, /*tty=*/false, /*log_every=*/10, "commit");
  StepRecord r;
  r.rec_loss = 0.5;
  r.aux_loss = 0.25;
  r.active_fraction = 0.5;
  for (int s = 1; s <= 20; ++s) {
    r.step = s;
    p.update(r, s * 0.5);
  }
  p.finish();
  // lines at steps 1, 10 and 20
  std::string out = os.str();
  CHECK(std::count(out.begin(), out.end(), '\n') == 3);
  CHECK(out.find("vq train: step 10/20  rec 0.5000  commit 0.2500  active 50.0%  2.00 steps/s  left 0:05") !=
        std::string::npos);
  Progress none(os, 4, false, 0, "-");
  r.step = 2;
  CHECK(none.status(r, 1.0).find("commit") == std::string::npos);

  std::ostringstream tty;
  Progress bar(tty, 4, /*tty=*/true, 0, "commit", /*columns=*/120);
  for (int s = 1; s <= 4; ++s) {
    r.step = s;
    bar.update(r, s * 1.0);
  }
  bar.finish();
  CHECK(tty.str().find("\r[##############################] step 4/4") != std::string::npos);
  CHECK(tty.str().find("\r[#######.......................] step 1/4") != std::string::npos);
  CHECK(tty.str().find("step 4/4") != std::string::npos);
  CHECK(tty.str().back() == '\n');
}

TEST_CASE("train: loss curve CSV and last-steps mean") {
  std::vector<StepRecord> c(3);
  for (int i = 0; i < 3; ++i) {
    c[i].step = i + 1;
    c[i].rec_loss = 0.5 - 0.1 * i;
    c[i].seconds = 0.5;
  }
  std::string csv = loss_curve_csv(c);
  CHECK(csv.rfind("step,rec_loss,aux_loss,active_fraction,perplexity,seconds\n1,0.500000,", 0) == 0);
  CHECK(csv.find("\n3,0.300000,0,0.000000,0.0000,1.5000\n") != std::string::npos);
  CHECK(mean_of_last(c, 2, &StepRecord::rec_loss) == doctest::Approx(0.35));
  CHECK(mean_of_last(c, 50, &StepRecord::rec_loss) == doctest::Approx(0.4));
  CHECK(mean_of_last({}, 50, &StepRecord::rec_loss) == 0.0);
}

TEST_CASE("train: OutputDir stages files and publishes them only on commit") {
  fs::path d = tmp_dir("outdir");
  {
    OutputDir out(d.string());
    out.write("a.txt", std::string("hello"));
    CHECK(fs::exists(out.staged("a.txt")));
    CHECK(!fs::exists(d / "a.txt"));
  }  // not committed: the staging folder is gone, nothing published
  CHECK(fs::is_empty(d));
  {
    OutputDir out(d.string());
    out.write("a.txt", std::string("hello"));
    out.write("b.bin", std::vector<uint8_t>{1, 2});
    out.commit({"a.txt", "b.bin"});
  }
  CHECK(read_file(d / "a.txt") == "hello");
  CHECK(fs::file_size(d / "b.bin") == 2);
  int entries = 0;
  for (auto& e : fs::directory_iterator(d)) (void)e, ++entries;
  CHECK(entries == 2);

  std::ofstream(d / "plain").put('x');
  CHECK_THROWS_WITH_AS(OutputDir((d / "plain").string()),
                       doctest::Contains("exists and is not a folder: choose another --out DIR"),
                       IoError);
  CHECK_THROWS_WITH_AS(OutputDir((d / "plain" / "sub").string()),
                       doctest::Contains("(choose a writable --out DIR)"), IoError);
}

TEST_CASE("train: training steps lower the loss and a seed fixes the run") {
  TrainOptions o;
  o.steps = 12;
  o.batch_size = 32;
  o.lr = 2e-3;
  std::vector<double> first;
  {
    Trainer t(o, train_set());
    for (int s = 0; s < 12; ++s) {
      StepRecord r = t.step();
      CHECK(r.step == s + 1);
      CHECK(std::isfinite(r.rec_loss));
      CHECK(r.aux_loss >= 0);
      CHECK((r.active_fraction > 0 && r.active_fraction <= 1));
      first.push_back(r.rec_loss);
    }
    CHECK(t.steps_done() == 12);
  }
  const double head = (first[0] + first[1] + first[2]) / 3, tail = (first[9] + first[10] + first[11]) / 3;
  CHECK(tail < 0.9 * head);
  Trainer again(o, train_set());
  for (int s = 0; s < 3; ++s) CHECK(again.step().rec_loss == first[static_cast<size_t>(s)]);
  o.seed = 99;
  Trainer other(o, train_set());
  CHECK(other.step().rec_loss != first[0]);
  o.batch_size = 0;
  CHECK_THROWS_WITH_AS(Trainer(o, train_set()), doctest::Contains("batch-size must be in [1, 60000]"),
                       ConfigError);
}

TEST_CASE("train: FSQ and LFQ models train a few steps") {
  for (QuantizerKind k : {QuantizerKind::fsq, QuantizerKind::lfq}) {
    TrainOptions o;
    o.model.quantizer = k;
    o.batch_size = 16;
    Trainer t(o, train_set());
    for (int s = 0; s < 3; ++s) {
      StepRecord r = t.step();
      CHECK(std::isfinite(r.rec_loss));
      CHECK(std::isfinite(r.aux_loss));
      if (k == QuantizerKind::fsq) CHECK(r.aux_loss == 0.0);
    }
  }
}

TEST_CASE("train: a short run writes every file, and its checkpoint reproduces the test loss") {
  fs::path d = tmp_dir("run");
  RunOptions ro;
  ro.train.steps = 20;
  ro.train.batch_size = 32;
  ro.train.lr = 2e-3;
  ro.data_dir = data::kFashionMnistDebianDir;
  ro.out_dir = d.string();
  ro.samples = 6;
  std::ostringstream log;
  RunResult r = run_training(ro, log);
  CHECK(!r.interrupted);
  for (const char* f : kRunFiles) CHECK(fs::exists(d / f));
  int entries = 0;
  for (auto& e : fs::directory_iterator(d)) (void)e, ++entries;
  CHECK(entries == 6);  // no staging folder left

  nlohmann::json s = nlohmann::json::parse(read_file(d / "summary.json"));
  CHECK(s == r.summary);
  for (const char* k : {"rec_loss", "test_rec_loss", "active_fraction", "perplexity",
                        "seconds_per_step", "test_active_fraction", "test_perplexity"})
    CHECK(s.at(k).get<double>() > 0);
  CHECK(s.at("device") == "cpu");
  CHECK(s.at("steps") == 20);
  CHECK(s.at("options").at("batch_size") == 32);
  CHECK(s.at("options").at("lr") == 2e-3);
  CHECK(s.at("options").at("seed") == 1234);
  CHECK(s.at("options").at("quantizer") == "vq");
  CHECK(s.at("test_rec_loss").get<double>() < 0.6);

  std::string csv = read_file(d / "loss_curve.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 21);
  std::vector<double> rec;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) rec.push_back(std::stod(line.substr(line.find(',') + 1)));
  CHECK(rec.size() == 20);
  CHECK(rec.back() < rec.front());
  CHECK(s.at("rec_loss").get<double>() == doctest::Approx((rec[0] + rec[19]) / 2).epsilon(0.5));

  Png rp = parse_png(read_file(d / "reconstructions.png"));
  CHECK(rp.width == 64 + 6 * 86 + 8);
  CHECK(rp.height == 26 + (2 * 86 + 10) + 4);
  Png cp = parse_png(read_file(d / "code_usage.png"));
  CHECK(cp.width > 256);
  parse_png(read_file(d / "loss_curve.png"));
  CHECK(log.str().find("vq train: step 20/20") != std::string::npos);

  SafetensorsFile st = load_safetensors((d / "checkpoint.safetensors").string());
  CHECK(st.metadata.at("format") == "vqcpp-train-checkpoint");
  CHECK(st.metadata.at("step") == "20");
  CHECK(st.tensors.count("fns.5._codebook.embed"));
  Checkpoint c = load_checkpoint((d / "checkpoint.safetensors").string(), cpu_device());
  CHECK(c.step == 20);
  CHECK(!c.model->is_training());
  EvalResult ev = evaluate(*c.model, data::load_fashion_mnist(data::Split::test), cpu_device(), 1000);
  CHECK(ev.rec_loss == s.at("test_rec_loss").get<double>());
  CHECK(ev.images == 10000);
  CHECK(ev.codes.active_fraction == s.at("test_active_fraction").get<double>());
}

TEST_CASE("train: interrupted or failed runs leave no files") {
  fs::path d = tmp_dir("stopped");
  RunOptions ro;
  ro.train.steps = 5;
  ro.train.batch_size = 8;
  ro.data_dir = data::kFashionMnistDebianDir;
  ro.out_dir = d.string();
  std::atomic<bool> stop{true};
  ro.stop = &stop;
  std::ostringstream log;
  RunResult r = run_training(ro, log);
  CHECK(r.interrupted);
  CHECK(fs::is_empty(d));

  fs::path missing = tmp_dir("nodata");
  ro.stop = nullptr;
  ro.data_dir = (missing / "no-such-dir").string();
  ro.out_dir = (missing / "out").string();
  CHECK_THROWS_WITH_AS(run_training(ro, log), doctest::Contains("dataset-fashion-mnist"), IoError);
  CHECK(!fs::exists(missing / "out"));
}

TEST_CASE("train: load_checkpoint rejects files that are not vq train checkpoints") {
  fs::path d = tmp_dir("badckpt");
  fs::create_directories(d);
  const std::string other = (d / "other.safetensors").string();
  save_safetensors(other, {{"x", Tensor::zeros({2})}}, {{"format", "something"}});
  CHECK_THROWS_WITH_AS(load_checkpoint(other, cpu_device()),
                       doctest::Contains("is not a vq train checkpoint"), IoError);
  Generator gen(1);
  AutoEncoder m(ModelOptions{}, gen);
  auto sd = m.state_dict();
  sd.erase("fns.0.bias");
  const std::string broken = (d / "broken.safetensors").string();
  save_safetensors(broken, sd,
                   {{"format", "vqcpp-train-checkpoint"}, {"model", ModelOptions{}.to_json().dump()}});
  CHECK_THROWS_WITH_AS(load_checkpoint(broken, cpu_device()),
                       doctest::Contains("tensors do not match the model they describe"), IoError);
  save_safetensors(broken, m.state_dict(),
                   {{"format", "vqcpp-train-checkpoint"}, {"model", "{not json"}});
  CHECK_THROWS_WITH_AS(load_checkpoint(broken, cpu_device()),
                       doctest::Contains("bad checkpoint metadata"), IoError);
}
