// Drawing the training figures (see figures.h).
#include "apps/train/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace vq::app {

namespace {

constexpr Rgb kBlack{0, 0, 0}, kLight{225, 225, 225}, kBlue{52, 101, 164},
    kRed{204, 0, 0}, kPale{200, 200, 200};

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `n` ticks up to v.
double tick_step(double v, int n) {
  if (!(v > 0)) return 1;
  double raw = v / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string fmt(double v) {
  char b[32];
  if (v != 0 && (std::fabs(v) >= 1e6 || std::fabs(v) < 1e-3))
    std::snprintf(b, sizeof b, "%.0e", v);
  else if (std::fabs(v - std::round(v)) < 1e-9)
    std::snprintf(b, sizeof b, "%.0f", v);
  else
    std::snprintf(b, sizeof b, "%g", v);
  return b;
}

uint8_t to_gray(float v) {
  float g = (std::min(std::max(v, -1.f), 1.f) + 1.f) * 127.5f;
  return static_cast<uint8_t>(std::lround(g));
}

// A plot frame: left/bottom axes with y ticks from 0 (or y0) to ymax.
struct Frame {
  int x0, y0, x1, y1;  // plot area [x0, x1) x [y0, y1), y grows downwards
  double lo, hi;       // y range
  int y_of(double v) const {
    double t = (v - lo) / (hi - lo);
    return y1 - 1 - static_cast<int>(std::lround(t * (y1 - y0 - 1)));
  }
};

void draw_y_axis(Canvas& c, const Frame& f, const std::string& label) {
  double step = tick_step(f.hi - f.lo, 5);
  for (double v = std::ceil(f.lo / step) * step; v <= f.hi + 1e-12; v += step) {
    int y = f.y_of(v);
    c.hline(f.x0, f.x1, y, kLight);
    std::string s = fmt(v);
    c.text(f.x0 - 6 - Canvas::text_width(s), y - 3, s, kBlack);
  }
  c.vline(f.x0 - 1, f.y0, f.y1, kBlack);
  c.hline(f.x0 - 1, f.x1, f.y1, kBlack);
  c.text(4, f.y0 - 14, label, kBlack);
}

}  // namespace

Canvas reconstructions_figure(const Tensor& images, const Tensor& recons, int cols,
                              const std::string& title) {
  check<ShapeError>(images.dim() == 4 && images.size(1) == 1 && images.size(2) == 28 &&
                        images.size(3) == 28 && images.size(0) >= 1 &&
                        recons.shape() == images.shape() && images.dtype() == DType::f32 &&
                        recons.dtype() == DType::f32,
                    "reconstructions_figure: expected two f32 [S, 1, 28, 28] tensors, got ",
                    images.str(), " and ", recons.str());
  check<ConfigError>(cols >= 1, "reconstructions_figure: cols must be >= 1");
  const int n = static_cast<int>(images.size(0));
  cols = std::min(cols, n);
  const int pairs = (n + cols - 1) / cols;
  constexpr int kScale = 3, kCell = 28 * kScale, kGap = 2, kPairGap = 10, kLeft = 64, kTop = 26;
  const int width = kLeft + cols * (kCell + kGap) + 8;
  const int height = kTop + pairs * (2 * (kCell + kGap) + kPairGap) + 4;
  Canvas c(width, height, {255, 255, 255});
  c.text(6, 8, title, kBlack);
  std::vector<float> a = images.to(cpu_device()).contiguous().to_vector<float>();
  std::vector<float> b = recons.to(cpu_device()).contiguous().to_vector<float>();
  for (int p = 0; p < pairs; ++p) {
    const int top = kTop + p * (2 * (kCell + kGap) + kPairGap);
    c.text(6, top + kCell / 2 - 3, "test", kBlack);
    c.text(6, top + kCell + kGap + kCell / 2 - 3, "output", kBlue);
    for (int k = 0; k < cols; ++k) {
      const int i = p * cols + k;
      if (i >= n) break;
      const int left = kLeft + k * (kCell + kGap);
      for (int row = 0; row < 2; ++row) {
        const float* src = (row == 0 ? a.data() : b.data()) + static_cast<size_t>(i) * 784;
        const int oy = top + row * (kCell + kGap);
        for (int y = 0; y < 28; ++y)
          for (int x = 0; x < 28; ++x) {
            uint8_t g = to_gray(src[y * 28 + x]);
            c.fill_rect(left + x * kScale, oy + y * kScale, left + (x + 1) * kScale,
                        oy + (y + 1) * kScale, {g, g, g});
          }
      }
    }
  }
  return c;
}

Canvas code_usage_figure(const CodeStats& stats, const std::string& title) {
  const int64_t k = static_cast<int64_t>(stats.counts.size());
  check<ConfigError>(k >= 1, "code_usage_figure: no codes");
  const int64_t per_bin = (k + 799) / 800;
  const int bins = static_cast<int>((k + per_bin - 1) / per_bin);
  std::vector<int64_t> h(static_cast<size_t>(bins), 0);
  std::vector<bool> dead(static_cast<size_t>(bins), false);
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) {
    h[static_cast<size_t>(i / per_bin)] += stats.counts[static_cast<size_t>(i)];
    if (stats.counts[static_cast<size_t>(i)] == 0) dead[static_cast<size_t>(i / per_bin)] = true;
    total += stats.counts[static_cast<size_t>(i)];
  }
  const int bar = std::max(1, 800 / bins);
  const int left = 70, top = 52, plot_h = 280;
  Canvas c(left + bins * bar + 40, top + plot_h + 60, {255, 255, 255});  // room for "even"
  c.text(6, 8, title, kBlack);
  const double uniform = double(total) / double(bins);
  const int64_t hmax = std::max<int64_t>(1, *std::max_element(h.begin(), h.end()));
  Frame f{left, top, left + bins * bar, top + plot_h, 0.0,
          std::max(double(hmax), uniform) * 1.05};
  draw_y_axis(c, f, per_bin == 1 ? "uses per code" : "uses per " + fmt(double(per_bin)) + " codes");
  for (int i = 0; i < bins; ++i) {
    const int x = left + i * bar;
    c.fill_rect(x, f.y_of(double(h[i])), x + std::max(1, bar - (bar > 2 ? 1 : 0)), f.y1, kBlue);
    if (dead[i]) c.fill_rect(x, f.y1 + 3, x + std::max(1, bar - (bar > 2 ? 1 : 0)), f.y1 + 9, kRed);
  }
  const int uy = f.y_of(uniform);
  for (int x = f.x0; x < f.x1; x += 8) c.hline(x, std::min(x + 4, f.x1), uy, kRed);
  c.text(f.x1 + 3, uy - 3, "even", kRed);  // the level of a uniform code use
  // x ticks at code indices
  const double xs = tick_step(double(k), 8);
  for (double v = 0; v <= double(k) - 1 + 1e-9; v += xs) {
    const int x = left + static_cast<int>(v / double(per_bin)) * bar;
    c.vline(x, f.y1, f.y1 + 12, kBlack);
    c.text(x - Canvas::text_width(fmt(v)) / 2, f.y1 + 15, fmt(v), kBlack);
  }
  const std::string xl = "code index (red: unused codes)";
  c.text(left + (bins * bar - Canvas::text_width(xl)) / 2, f.y1 + 34, xl, kBlack);
  return c;
}

Canvas loss_curve_figure(const std::vector<StepRecord>& curve, const std::string& title) {
  check<ConfigError>(!curve.empty(), "loss_curve_figure: no steps");
  const int n = static_cast<int>(curve.size());
  const int left = 70, top = 52, plot_w = 800, plot_h = 300;
  Canvas c(left + plot_w + 30, top + plot_h + 60, {255, 255, 255});
  c.text(6, 8, title, kBlack);
  double hi = 0;
  for (const auto& r : curve) hi = std::max(hi, r.rec_loss);
  Frame f{left, top, left + plot_w, top + plot_h, 0.0, hi > 0 ? hi * 1.05 : 1.0};
  draw_y_axis(c, f, "reconstruction loss (L1)");
  auto x_of = [&](int i) { return left + (n > 1 ? int(std::lround(double(i) * (plot_w - 1) / (n - 1))) : 0); };
  // centred running mean over 51 steps (fewer at the ends)
  std::vector<double> prefix(static_cast<size_t>(n) + 1, 0.0), smooth(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + curve[i].rec_loss;
  for (int i = 0; i < n; ++i) {
    const int a = std::max(0, i - 25), b = std::min(n, i + 26);
    smooth[i] = (prefix[b] - prefix[a]) / (b - a);
  }
  for (int i = 1; i < n; ++i)
    c.line(x_of(i - 1), f.y_of(curve[i - 1].rec_loss), x_of(i), f.y_of(curve[i].rec_loss), kPale);
  for (int i = 1; i < n; ++i)
    c.line(x_of(i - 1), f.y_of(smooth[i - 1]), x_of(i), f.y_of(smooth[i]), kBlue, 2);
  const double xs = tick_step(double(curve.back().step), 8);
  for (double v = 0; v <= double(curve.back().step) + 1e-9; v += xs) {
    const int x = left + int(std::lround(v / std::max<double>(1, curve.back().step) * (plot_w - 1)));
    c.vline(x, f.y1, f.y1 + 6, kBlack);
    c.text(x - Canvas::text_width(fmt(v)) / 2, f.y1 + 10, fmt(v), kBlack);
  }
  const std::string xl = "step (grey: per batch, blue: 51-step running mean)";
  c.text(left + (plot_w - Canvas::text_width(xl)) / 2, f.y1 + 30, xl, kBlack);
  return c;
}

}  // namespace vq::app
