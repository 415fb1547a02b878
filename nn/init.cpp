// PyTorch-compatible initializations (see init.h). Random values are drawn with the
// Tensor factories on the target's device; orthogonal_ runs a Householder QR in double
// on the host and copies the result over.
#include "nn/init.h"

#include <cmath>
#include <vector>

namespace vq::nn::init {

namespace {

void check_f32(const char* op, const Tensor& t) {
  check(t.defined(), op, ": undefined tensor");
  VQ_CHECK(DTypeError, t.dtype() == DType::f32, op, ": tensor must be f32, got ", t.str());
}

int64_t pick_fan(const Shape& shape, FanMode mode) {
  Fans f = calculate_fans(shape);
  return mode == FanMode::fan_in ? f.fan_in : f.fan_out;
}

}  // namespace

Fans calculate_fans(const Shape& shape) {
  VQ_CHECK(ShapeError, shape.size() >= 2,
                    "init: fan in and fan out can not be computed for a tensor with fewer than 2 "
                    "dimensions, got ",
                    shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return Fans{shape[1] * receptive, shape[0] * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "sigmoid")
    return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  throw ConfigError(str_cat("init: unsupported nonlinearity '", nl,
                            "' (linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, "
                            "leaky_relu, selu)"));
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  check_f32("uniform_", t);
  t.copy_(Tensor::rand(t.shape(), gen, t.device(), static_cast<float>(lo), static_cast<float>(hi)));
}

void normal_(Tensor& t, double mean, double std, Generator& gen) {
  check_f32("normal_", t);
  t.copy_(Tensor::randn(t.shape(), gen, t.device(), static_cast<float>(mean),
                        static_cast<float>(std)));
}

void constant_(Tensor& t, double value) {
  check_f32("constant_", t);
  t.fill_(value);
}
void zeros_(Tensor& t) { constant_(t, 0.0); }
void ones_(Tensor& t) { constant_(t, 1.0); }

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity,
                      Generator& gen) {
  check_f32("kaiming_uniform_", t);
  const int64_t fan = pick_fan(t.shape(), mode);
  const double gain = calculate_gain(nonlinearity, a);
  const double bound = fan > 0 ? std::sqrt(3.0) * gain / std::sqrt(static_cast<double>(fan)) : 0.0;
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity,
                     Generator& gen) {
  check_f32("kaiming_normal_", t);
  const int64_t fan = pick_fan(t.shape(), mode);
  const double gain = calculate_gain(nonlinearity, a);
  normal_(t, 0.0, fan > 0 ? gain / std::sqrt(static_cast<double>(fan)) : 0.0, gen);
}

void xavier_uniform_(Tensor& t, double gain, Generator& gen) {
  check_f32("xavier_uniform_", t);
  Fans f = calculate_fans(t.shape());
  const double s = static_cast<double>(f.fan_in + f.fan_out);
  const double a = s > 0 ? gain * std::sqrt(6.0 / s) : 0.0;
  uniform_(t, -a, a, gen);
}

void xavier_normal_(Tensor& t, double gain, Generator& gen) {
  check_f32("xavier_normal_", t);
  Fans f = calculate_fans(t.shape());
  const double s = static_cast<double>(f.fan_in + f.fan_out);
  normal_(t, 0.0, s > 0 ? gain * std::sqrt(2.0 / s) : 0.0, gen);
}

void orthogonal_(Tensor& t, double gain, Generator& gen) {
  check_f32("orthogonal_", t);
  VQ_CHECK(ShapeError, t.dim() >= 2, "orthogonal_: only tensors with 2 or more dimensions are supported, got ",
                    t.str());
  const int64_t rows = t.size(0), cols = rows > 0 ? t.numel() / rows : 0;
  if (t.numel() == 0) return;
  // A [m, n] with m >= n: the normal matrix, transposed when rows < cols.
  const bool tr = rows < cols;
  const int64_t m = tr ? cols : rows, n = tr ? rows : cols;
  std::vector<float> z = Tensor::randn({rows, cols}, gen, cpu_device()).to_vector<float>();
  std::vector<double> A(m * n);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      if (tr) A[j * n + i] = z[i * cols + j];
      else A[i * n + j] = z[i * cols + j];
    }
  // Householder QR: reflectors v_k stored aside, R in A's upper triangle.
  std::vector<std::vector<double>> vs(n);
  std::vector<double> rdiag(n);
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += A[i * n + k] * A[i * n + k];
    norm = std::sqrt(norm);
    const double alpha = A[k * n + k] > 0 ? -norm : norm;
    std::vector<double> v(m - k);
    for (int64_t i = k; i < m; ++i) v[i - k] = A[i * n + k];
    v[0] -= alpha;
    double vn = 0;
    for (double e : v) vn += e * e;
    if (vn > 0) {
      for (int64_t j = k; j < n; ++j) {
        double s = 0;
        for (int64_t i = k; i < m; ++i) s += v[i - k] * A[i * n + j];
        s = 2 * s / vn;
        for (int64_t i = k; i < m; ++i) A[i * n + j] -= s * v[i - k];
      }
    }
    rdiag[k] = A[k * n + k];
    vs[k] = std::move(v);
  }
  // Q [m, n] = H_0 H_1 ... H_{n-1} [I_n; 0], then columns times sign(R_kk).
  std::vector<double> Q(m * n, 0.0);
  for (int64_t j = 0; j < n; ++j) Q[j * n + j] = 1.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    const std::vector<double>& v = vs[k];
    double vn = 0;
    for (double e : v) vn += e * e;
    if (vn == 0) continue;
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t i = k; i < m; ++i) s += v[i - k] * Q[i * n + j];
      s = 2 * s / vn;
      for (int64_t i = k; i < m; ++i) Q[i * n + j] -= s * v[i - k];
    }
  }
  std::vector<float> out(rows * cols);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double sgn = rdiag[j] > 0 ? 1.0 : (rdiag[j] < 0 ? -1.0 : 0.0);
      const float v = static_cast<float>(gain * Q[i * n + j] * sgn);
      if (tr) out[j * cols + i] = v;  // Q^T: [n = rows, m = cols]
      else out[i * cols + j] = v;
    }
  t.copy_(Tensor::from_vector(out, t.shape(), t.device()));
}

void default_weight_(Tensor& weight, Generator& gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), FanMode::fan_in, "leaky_relu", gen);
}

void default_bias_(Tensor& bias, int64_t fan_in, Generator& gen) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, -bound, bound, gen);
}

}  // namespace vq::nn::init
