// Where a `vq train` step goes: each op of the reference example's autoencoder at its
// training shapes (batch 256, Fashion-MNIST 28x28), forward + backward through the
// autograd engine as the step runs it, plus whole training steps (Trainer::step) per
// quantizer. bench/train_ops_torch.py times the same ops in PyTorch. Process CPU time
// is the column to compare on a shared machine: run single-threaded,
//   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 bench_train_ops --benchmark_min_time=0.5
// Ops: conv3x3 (the encoder's two convolutions; the first has no input gradient, like
// the step), the decoder's upsample + conv3x3 pairs both fused (upsample2x_conv3x3,
// what vq train runs) and plain, max_pool2d and GELU.
#include <benchmark/benchmark.h>

#include "apps/data/fashion_mnist.h"
#include "apps/train/trainer.h"
#include "apps/train/upsample_conv.h"
#include "autograd/functions.h"
#include "nn/functional.h"

namespace {

using namespace vq;

void BM_conv3x3(benchmark::State& st) {
  const int64_t C = st.range(0), H = st.range(1), O = st.range(2);
  Generator g(1);
  Variable x(Tensor::randn({256, C, H, H}, g), /*requires_grad=*/C > 1);
  Variable w(Tensor::randn({O, C, 3, 3}, g), true), b(Tensor::randn({O}, g), true);
  Tensor gy = Tensor::randn({256, O, H, H}, g);
  for (auto _ : st) nn::conv2d(x, w, b, {1, 1}, {1, 1}).backward(gy);
}
BENCHMARK(BM_conv3x3)->ArgNames({"C", "H", "O"})->Args({1, 28, 16})->Args({16, 14, 32})
    ->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

void BM_upsample_conv(benchmark::State& st) {
  const int64_t C = st.range(0), H = st.range(1), O = st.range(2);
  const bool fused = st.range(3);
  Generator g(1);
  Variable x(Tensor::randn({256, C, H, H}, g), true);
  Variable w(Tensor::randn({O, C, 3, 3}, g), true), b(Tensor::randn({O}, g), true);
  Tensor gy = Tensor::randn({256, O, 2 * H, 2 * H}, g);
  for (auto _ : st) {
    if (fused)
      app::upsample2x_conv3x3(x, w, b).backward(gy);
    else
      nn::conv2d(nn::upsample_nearest2d(x, {2, 2}), w, b, {1, 1}, {1, 1}).backward(gy);
  }
}
BENCHMARK(BM_upsample_conv)->ArgNames({"C", "H", "O", "fused"})
    ->Args({32, 7, 16, 1})->Args({32, 7, 16, 0})->Args({16, 14, 1, 1})->Args({16, 14, 1, 0})
    ->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

void BM_max_pool2(benchmark::State& st) {
  const int64_t C = st.range(0), H = st.range(1);
  const bool backward = st.range(2);
  Generator g(1);
  Variable x(Tensor::randn({256, C, H, H}, g), true);
  Tensor gy = Tensor::randn({256, C, H / 2, H / 2}, g);
  for (auto _ : st) {
    if (backward) {
      nn::max_pool2d(x, {2, 2}, {2, 2}).backward(gy);
    } else {
      NoGradGuard ng;
      benchmark::DoNotOptimize(nn::max_pool2d(x, {2, 2}, {2, 2}));
    }
  }
}
BENCHMARK(BM_max_pool2)->ArgNames({"C", "H", "bwd"})->Args({16, 28, 0})->Args({16, 28, 1})
    ->Args({32, 14, 0})->Args({32, 14, 1})->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

void BM_gelu(benchmark::State& st) {
  const bool backward = st.range(0);
  Generator g(1);
  Variable x(Tensor::randn({256, 16, 14, 14}, g), true);
  Tensor gy = Tensor::randn({256, 16, 14, 14}, g);
  for (auto _ : st) {
    if (backward) {
      ag::gelu(x).backward(gy);
    } else {
      NoGradGuard ng;
      benchmark::DoNotOptimize(ag::gelu(x));
    }
  }
}
BENCHMARK(BM_gelu)->ArgNames({"bwd"})->Arg(0)->Arg(1)->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

void BM_train_step(benchmark::State& st) {
  static const data::FashionMnist train = data::load_fashion_mnist(data::Split::train);
  app::TrainOptions o;
  o.model.quantizer = static_cast<app::QuantizerKind>(st.range(0));
  app::Trainer t(o, train);
  for (int i = 0; i < 3; ++i) t.step();  // warm the allocator caches
  for (auto _ : st) t.step();
  st.SetLabel(app::quantizer_kind_name(o.model.quantizer));
}
BENCHMARK(BM_train_step)->ArgNames({"quantizer"})->Arg(0)->Arg(1)->Arg(2)
    ->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
