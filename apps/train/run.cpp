// `vq train` end to end (see run.h).
#include "apps/train/run.h"

#include <malloc.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "apps/args.h"
#include "apps/data/fashion_mnist.h"
#include "apps/train/figures.h"
#include "apps/train/progress.h"
#include "apps/train/run_files.h"
#include "core/error.h"

namespace vq::app {

const char* const kRunFiles[6] = {"checkpoint.safetensors", "loss_curve.csv",
                                  "reconstructions.png",    "code_usage.png",
                                  "loss_curve.png",         "summary.json"};

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::string describe(const TrainOptions& o, int threads) {
  const ModelOptions& m = o.model;
  char b[512];
  std::string q;
  switch (m.quantizer) {
    case QuantizerKind::vq:
      q = "VectorQuantize(dim 32, " + std::to_string(m.codebook_size) + " codes, " +
          (m.rotation_trick ? "rotation trick" : "straight-through") + ")";
      break;
    case QuantizerKind::fsq: {
      std::string l;
      for (size_t i = 0; i < m.levels.size(); ++i) l += (i ? "," : "") + std::to_string(m.levels[i]);
      q = "FSQ(levels " + l + ", " + std::to_string(m.num_codes()) + " codes)";
      break;
    }
    case QuantizerKind::lfq:
      q = "LFQ(dim " + std::to_string(m.latent_dim()) + ", " + std::to_string(m.codebook_size) +
          " codes, spherical)";
      break;
  }
  std::snprintf(b, sizeof b, "%s autoencoder, %lld steps of %lld images, AdamW lr %g, seed %llu, %s",
                q.c_str(), static_cast<long long>(o.steps), static_cast<long long>(o.batch_size),
                o.lr, static_cast<unsigned long long>(o.seed), o.device.str().c_str());
  std::string s = b;
  if (o.device.is_cpu()) s += " (" + std::to_string(threads) + " threads)";
  return s;
}

const char* aux_name(QuantizerKind k) {
  switch (k) {
    case QuantizerKind::vq: return "commit";
    case QuantizerKind::fsq: return "-";
    case QuantizerKind::lfq: return "entropy";
  }
  return "-";
}

}  // namespace

nlohmann::json make_summary(const TrainOptions& o, const std::vector<StepRecord>& curve,
                            double train_seconds, double cpu_secs, const EvalResult& test,
                            int threads) {
  const size_t last = 50;
  const double steps = double(std::max<size_t>(curve.size(), 1));
  nlohmann::json j;
  j["quantizer"] = quantizer_kind_name(o.model.quantizer);
  j["steps"] = curve.size();
  j["rec_loss"] = mean_of_last(curve, last, &StepRecord::rec_loss);
  j["aux_loss"] = mean_of_last(curve, last, &StepRecord::aux_loss);
  j["test_rec_loss"] = test.rec_loss;
  j["active_fraction"] = mean_of_last(curve, last, &StepRecord::active_fraction);
  j["perplexity"] = mean_of_last(curve, last, &StepRecord::perplexity);
  j["test_active_fraction"] = test.codes.active_fraction;
  j["test_perplexity"] = test.codes.perplexity;
  j["num_codes"] = o.model.num_codes();
  j["seconds_per_step"] = train_seconds / steps;
  j["cpu_seconds_per_step"] = cpu_secs / steps;
  j["train_seconds"] = train_seconds;
  j["device"] = o.device.str();
  j["threads"] = threads;
  j["test_images"] = test.images;
  j["averaged_over_last_steps"] = std::min(last, curve.size());
  j["options"] = o.to_json();
  j["files"] = std::vector<std::string>(std::begin(kRunFiles), std::end(kRunFiles));
  return j;
}

Device resolve_device_flag(const std::string& command, const std::string& s) {
  if (s == "auto") return cuda_available() ? cuda_device(0) : cpu_device();
  Device d;
  try {
    d = parse_device(s);
  } catch (const ConfigError&) {
    throw UsageError("vq " + command + ": --device must be auto, cpu, cuda or cuda:N, got '" + s + "'");
  }
  if (d.is_cuda() && d.index >= cuda_device_count())
    throw UsageError("vq " + command + ": --device " + s + ": no such CUDA device (" +
                     std::to_string(cuda_device_count()) + " found" +
#ifdef VQ_WITH_CUDA
                     ""
#else
                     ", and this build has no CUDA"
#endif
                     "); use --device cpu");
  return d;
}

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value every glibc accepts
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

RunResult run_training(const RunOptions& ro, std::ostream& log) {
  const TrainOptions& o = ro.train;
  o.model.validate();
  if (o.device.is_cuda())
    check<ConfigError>(o.device.index < cuda_device_count(), "--device ", o.device.str(),
                       ": no such CUDA device (", cuda_device_count(),
                       " found); use --device cpu");
  data::FashionMnist train = data::load_fashion_mnist(data::Split::train, ro.data_dir);
  data::FashionMnist test = data::load_fashion_mnist(data::Split::test, ro.data_dir);
  OutputDir out(ro.out_dir);

  Trainer trainer(o, std::move(train));
  const int threads = omp_get_max_threads();
  log << "vq train: " << describe(o, threads) << std::endl;
  Progress progress(log, o.steps, ro.tty, ro.log_every, aux_name(o.model.quantizer));
  std::vector<StepRecord> curve;
  curve.reserve(static_cast<size_t>(o.steps));
  const double t0 = now_seconds(), c0 = cpu_seconds();
  RunResult result;
  for (int64_t s = 0; s < o.steps; ++s) {
    if (ro.stop && ro.stop->load()) {
      progress.finish();
      result.interrupted = true;
      return result;  // `out` removes its staging folder: nothing is written
    }
    curve.push_back(trainer.step());
    progress.update(curve.back(), now_seconds() - t0);
  }
  const double train_seconds = now_seconds() - t0, train_cpu = cpu_seconds() - c0;
  progress.finish();

  auto stopped = [&] { return ro.stop && ro.stop->load(); };
  if (stopped()) {
    result.interrupted = true;
    return result;
  }
  EvalResult ev = evaluate(trainer.model(), test, o.device, 1000, ro.samples);
  result.summary = make_summary(o, curve, train_seconds, train_cpu, ev, threads);

  const std::string q = quantizer_kind_name(o.model.quantizer);
  char title[256];
  save_checkpoint(out.staged("checkpoint.safetensors"), trainer.model(), o, trainer.steps_done());
  out.write("loss_curve.csv", loss_curve_csv(curve));
  std::snprintf(title, sizeof title,
                "%s: test images (top) and their reconstructions (bottom), test L1 %.4f",
                q.c_str(), ev.rec_loss);
  out.write("reconstructions.png",
            reconstructions_figure(ev.samples, ev.reconstructions, 12, title).png());
  std::snprintf(title, sizeof title,
                "%s: code use on the test set (%lld images), %lld of %lld codes used, "
                "perplexity %.1f",
                q.c_str(), static_cast<long long>(ev.images),
                static_cast<long long>(ev.codes.active),
                static_cast<long long>(ev.codes.counts.size()), ev.codes.perplexity);
  out.write("code_usage.png", code_usage_figure(ev.codes, title).png());
  std::snprintf(title, sizeof title, "%s: training reconstruction loss, %lld steps of %lld", q.c_str(),
                static_cast<long long>(o.steps), static_cast<long long>(o.batch_size));
  out.write("loss_curve.png", loss_curve_figure(curve, title).png());
  out.write("summary.json", result.summary.dump(2) + "\n");
  if (stopped()) {
    result = RunResult();
    result.interrupted = true;
    return result;
  }
  out.commit(std::vector<std::string>(std::begin(kRunFiles), std::end(kRunFiles)));
  return result;
}

}  // namespace vq::app
