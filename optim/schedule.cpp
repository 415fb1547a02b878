// Learning-rate schedules (see schedule.h).
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace vq::optim {

namespace {
constexpr double kPi = 3.14159265358979323846;

void check_step(const char* who, int64_t step) {
  VQ_CHECK(ConfigError, step >= 0, who, ": step must be >= 0, got ", step);
}
}  // namespace

void LRSchedule::apply(Optimizer& opt, int64_t step) const { opt.set_lr(lr_at(step)); }

LinearWarmup::LinearWarmup(double base_lr, int64_t total_iters, double start_factor,
                           double end_factor)
    : base_(base_lr), start_(start_factor), end_(end_factor), total_(total_iters) {
  VQ_CHECK(ConfigError, start_factor > 0.0 && start_factor <= 1.0,
                     "LinearWarmup: start_factor must be in (0, 1], got ", start_factor);
  VQ_CHECK(ConfigError, end_factor >= 0.0 && end_factor <= 1.0,
                     "LinearWarmup: end_factor must be in [0, 1], got ", end_factor);
  VQ_CHECK(ConfigError, total_iters >= 1, "LinearWarmup: total_iters must be >= 1, got ",
                     total_iters);
}

double LinearWarmup::lr_at(int64_t step) const {
  check_step("LinearWarmup", step);
  const double t = static_cast<double>(std::min(step, total_));
  return base_ * (start_ + (end_ - start_) * t / static_cast<double>(total_));
}

CosineAnnealing::CosineAnnealing(double base_lr, int64_t T_max, double eta_min)
    : base_(base_lr), eta_min_(eta_min), T_max_(T_max) {
  VQ_CHECK(ConfigError, T_max >= 1, "CosineAnnealing: T_max must be >= 1, got ", T_max);
}

double CosineAnnealing::lr_at(int64_t step) const {
  check_step("CosineAnnealing", step);
  const double t = static_cast<double>(std::min(step, T_max_));
  return eta_min_ + (base_ - eta_min_) * (1.0 + std::cos(kPi * t / static_cast<double>(T_max_))) / 2.0;
}

WarmupCosine::WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps,
                           double min_lr, double start_factor)
    : base_(base_lr), min_(min_lr), start_(start_factor), warmup_(warmup_steps),
      total_(total_steps) {
  VQ_CHECK(ConfigError, warmup_steps >= 0 && warmup_steps < total_steps,
                     "WarmupCosine: need 0 <= warmup_steps < total_steps, got warmup_steps=",
                     warmup_steps, " total_steps=", total_steps);
  VQ_CHECK(ConfigError, start_factor >= 0.0 && start_factor <= 1.0,
                     "WarmupCosine: start_factor must be in [0, 1], got ", start_factor);
}

double WarmupCosine::lr_at(int64_t step) const {
  check_step("WarmupCosine", step);
  if (step < warmup_) {
    const double f = start_ + (1.0 - start_) * static_cast<double>(step) / static_cast<double>(warmup_);
    return base_ * f;
  }
  const double span = static_cast<double>(total_ - warmup_);
  const double t = static_cast<double>(std::min(step, total_) - warmup_);
  return min_ + (base_ - min_) * (1.0 + std::cos(kPi * t / span)) / 2.0;
}

}  // namespace vq::optim
