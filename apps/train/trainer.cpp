// The examples' training loop and the test-set evaluation (see trainer.h).
#include "apps/train/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>

#include "autograd/functions.h"
#include "core/error.h"
#include "kernels/ops.h"

// OpenBLAS's thread-count setter (the BLAS vq_kernels links, docs/architecture.md).
extern "C" void openblas_set_num_threads(int num_threads);

namespace vq::app {

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json j = model.to_json();
  j["steps"] = steps;
  j["batch_size"] = batch_size;
  j["lr"] = lr;
  j["seed"] = seed;
  j["device"] = device.str();
  j["threads"] = threads;
  j["optimizer"] = "AdamW";
  j["weight_decay"] = optim::AdamWOptions().weight_decay;
  j["aux_weight"] = model.aux_weight();
  j["quantizer_module"] = model.quantizer_module();
  j["quantizer_config"] = model.quantizer_config();
  return j;
}

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

namespace {

void finish_stats(CodeStats& s) {
  int64_t total = 0;
  s.active = 0;
  for (int64_t c : s.counts) {
    total += c;
    s.active += c > 0;
  }
  double ent = 0;
  for (int64_t c : s.counts)
    if (c > 0) {
      double p = static_cast<double>(c) / static_cast<double>(total);
      ent -= p * std::log(p);
    }
  s.active_fraction = s.counts.empty() ? 0.0 : double(s.active) / double(s.counts.size());
  s.perplexity = total > 0 ? std::exp(ent) : 0.0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

CodeStats code_stats(const Tensor& indices, int64_t num_codes) {
  check<ConfigError>(num_codes >= 1, "code_stats: num_codes must be >= 1, got ", num_codes);
  CodeStats s;
  s.counts.assign(static_cast<size_t>(num_codes), 0);
  add_code_stats(s, indices);
  return s;
}

void add_code_stats(CodeStats& s, const Tensor& indices) {
  const int64_t k = static_cast<int64_t>(s.counts.size());
  check<DTypeError>(indices.dtype() == DType::i64, "code_stats: indices must be i64, got ",
                    indices.str());
  std::vector<int64_t> v = indices.to(cpu_device()).contiguous().to_vector<int64_t>();
  for (int64_t i : v) {
    check<ConfigError>(i >= 0 && i < k, "code_stats: index ", i, " outside [0, ", k, ")");
    ++s.counts[static_cast<size_t>(i)];
  }
  finish_stats(s);
}

Trainer::Trainer(const TrainOptions& options, data::FashionMnist train_set) : opt_(options) {
  opt_.model.validate();
  check<ConfigError>(opt_.steps >= 1, "steps must be >= 1, got ", opt_.steps);
  check<ConfigError>(opt_.batch_size >= 1 && opt_.batch_size <= train_set.size(),
                     "batch-size must be in [1, ", train_set.size(), "], got ", opt_.batch_size);
  check<ConfigError>(opt_.lr > 0, "lr must be > 0, got ", opt_.lr);
  set_cpu_threads(opt_.threads);
  manual_seed(opt_.seed);
  model_ = std::make_shared<AutoEncoder>(opt_.model, default_generator());
  model_->to(opt_.device);
  model_->train();
  optim::AdamWOptions ao;
  ao.lr = opt_.lr;
  optimizer_ = std::make_unique<optim::AdamW>(model_->parameters(), ao);
  data::FashionMnistBatcher::Options bo;
  bo.batch_size = opt_.batch_size;
  bo.shuffle = true;
  bo.drop_last = true;
  bo.seed = opt_.seed;
  bo.device = opt_.device;
  batcher_ = std::make_unique<data::FashionMnistBatcher>(std::move(train_set), bo);
}

StepRecord Trainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  data::Batch batch = batcher_->next();
  Variable x(batch.images);
  optimizer_->zero_grad();
  TrainingLoss loss = training_loss(*model_, x);
  const AutoEncoder::Output& out = loss.output;
  const Variable& rec = loss.rec;
  loss.total.backward();
  optimizer_->step();

  StepRecord r;
  r.step = ++step_;
  r.rec_loss = rec.value().item<float>();
  r.aux_loss = out.aux_loss.value().item<float>();
  CodeStats cs = code_stats(out.indices, opt_.model.num_codes());
  r.active_fraction = cs.active_fraction;
  r.perplexity = cs.perplexity;
  r.seconds = seconds_since(t0);
  return r;
}

EvalResult evaluate(AutoEncoder& model, const data::FashionMnist& test_set, Device device,
                    int64_t batch_size, int64_t samples) {
  check<ConfigError>(batch_size >= 1, "evaluate: batch_size must be >= 1, got ", batch_size);
  check<ConfigError>(test_set.size() >= 1, "evaluate: the test set is empty");
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  data::FashionMnistBatcher::Options bo;
  bo.batch_size = batch_size;
  bo.shuffle = false;
  bo.device = device;
  data::FashionMnistBatcher batcher(test_set, bo);
  EvalResult r;
  r.codes.counts.assign(static_cast<size_t>(model.options().num_codes()), 0);
  samples = std::min(samples, test_set.size());
  std::vector<Tensor> keep_x, keep_y;
  int64_t kept = 0;
  double abs_sum = 0;
  for (int64_t b = 0; b < batcher.batches_per_epoch(); ++b) {
    data::Batch batch = batcher.next();
    Variable x(batch.images);
    AutoEncoder::Output out = model.forward(x);
    abs_sum += ops::sum(ops::abs(ops::sub(out.reconstruction.value(), batch.images)))
                   .to(DType::f32)
                   .item<float>();
    add_code_stats(r.codes, out.indices);
    r.images += batch.images.size(0);
    if (kept < samples) {
      int64_t n = std::min(samples - kept, batch.images.size(0));
      keep_x.push_back(batch.images.narrow(0, 0, n).to(cpu_device()).contiguous());
      keep_y.push_back(out.reconstruction.value().narrow(0, 0, n).to(cpu_device()).contiguous());
      kept += n;
    }
  }
  r.rec_loss = abs_sum / (static_cast<double>(r.images) * 28.0 * 28.0);
  if (kept > 0) {
    r.samples = ops::cat(keep_x, 0);
    r.reconstructions = ops::cat(keep_y, 0);
  }
  model.train(was_training);
  return r;
}

}  // namespace vq::app
