// Training and evaluation of the examples' autoencoders (model.h) on Fashion-MNIST:
// the examples' loop (AdamW over all parameters, a fresh shuffled batch each step,
// loss = L1(clamp(out), x) + alpha * quantizer loss) one step at a time, with the
// per-step metrics the examples print, and a test-set evaluation.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/data/fashion_mnist.h"
#include "apps/train/model.h"
#include "core/device.h"
#include "optim/adam.h"

namespace vq::app {

struct TrainOptions {
  ModelOptions model;
  int64_t steps = 1000;
  int64_t batch_size = 256;
  double lr = 3e-4;
  uint64_t seed = 1234;
  Device device = cpu_device();
  int threads = 0;  // 0: the OpenMP / OpenBLAS defaults (all cores)

  nlohmann::json to_json() const;  // every option, for summary.json and checkpoints
};

// Code-use statistics of a set of indices over K codes.
struct CodeStats {
  std::vector<int64_t> counts;  // [K]
  int64_t active = 0;           // codes used at least once
  double active_fraction = 0;   // active / K (the examples' "active %" / 100)
  double perplexity = 0;        // exp(entropy of counts / total)
};
// indices: i64 on any device, every value in [0, K) (ConfigError otherwise).
CodeStats code_stats(const Tensor& indices, int64_t num_codes);
// Accumulates more indices into `stats` (recomputing active and perplexity).
void add_code_stats(CodeStats& stats, const Tensor& indices);

struct StepRecord {
  int64_t step = 0;         // 1-based
  double rec_loss = 0;      // mean |clamp(out) - x| of the batch
  double aux_loss = 0;      // the quantizer's loss (unweighted)
  double active_fraction = 0;
  double perplexity = 0;
  double seconds = 0;       // wall time of this step (forward, backward, update, metrics)
};

class Trainer {
 public:
  // Seeds the default generator with options.seed (like torch.manual_seed), builds the
  // model on options.device, AdamW(lr) and a shuffling batcher (drop_last: every batch
  // has batch_size images, like the examples' fresh loader each step).
  // Throws ConfigError for invalid options.
  Trainer(const TrainOptions& options, data::FashionMnist train_set);

  // One optimizer step on the next batch; returns its metrics.
  StepRecord step();
  int64_t steps_done() const { return step_; }
  AutoEncoder& model() { return *model_; }
  const TrainOptions& options() const { return opt_; }

 private:
  TrainOptions opt_;
  std::shared_ptr<AutoEncoder> model_;
  std::unique_ptr<optim::AdamW> optimizer_;
  std::unique_ptr<data::FashionMnistBatcher> batcher_;
  int64_t step_ = 0;
};

struct EvalResult {
  double rec_loss = 0;       // mean |clamp(out) - x| over every pixel of the test set
  int64_t images = 0;
  CodeStats codes;           // code use over the whole test set
  Tensor samples;            // f32 [S, 1, 28, 28] CPU: the first S test images in [-1, 1]
  Tensor reconstructions;    // f32 [S, 1, 28, 28] CPU: their reconstructions
};

// Runs the model in eval mode (no gradient, no codebook updates) over `test_set` in
// batches of batch_size (>= 1), then restores the previous mode; keeps the first
// `samples` images and their reconstructions.
EvalResult evaluate(AutoEncoder& model, const data::FashionMnist& test_set, Device device,
                    int64_t batch_size = 1000, int64_t samples = 0);

// Applies `threads` (> 0) to OpenMP and OpenBLAS; 0 leaves the defaults.
void set_cpu_threads(int threads);

}  // namespace vq::app
