#include <cmath>
// Tensor: factories, metadata, views, copies, device moves and host read-back.
#include "core/tensor.h"

#include <algorithm>
#include <cstring>

#include "core/copy_kernels.h"

namespace vq {

namespace {

Tensor make_empty(const Shape& shape, DType dtype, Device device) { return Tensor::empty(shape, dtype, device); }

void check_shape_valid(const Shape& shape, const char* op) {
  VQ_CHECK(ShapeError, static_cast<int>(shape.size()) <= detail::kMaxDims, op, ": rank ",
                    shape.size(), " exceeds the maximum of ", detail::kMaxDims);
  for (int64_t d : shape)
    VQ_CHECK(ShapeError, d >= 0, op, ": negative extent in shape ", shape_str(shape));
}

// Copies src (same shape, same dtype, same device) into dst honoring both strides.
void copy_same(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cpu()) {
    detail::cpu_copy_strided(dst.raw_data(), dst.strides().data(), src.raw_data(),
                             src.strides().data(), dst.shape().data(),
                             static_cast<int>(dst.dim()), dtype_size(dst.dtype()));
    return;
  }
#ifdef VQ_WITH_CUDA
  if (dst.is_contiguous() && src.is_contiguous()) {
    detail::cuda_memcpy(dst.raw_data(), src.raw_data(), dst.nbytes(),
                        detail::CopyKind::DeviceToDevice, dst.device().index);
    return;
  }
  detail::cuda_copy_strided(dst.raw_data(), dst.strides().data(), src.raw_data(),
                            src.strides().data(), dst.shape().data(), static_cast<int>(dst.dim()),
                            dtype_size(dst.dtype()), dst.device().index);
#endif
}

}  // namespace

// ---------------- factories ----------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape_valid(shape, "Tensor::empty");
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::arange(double start, double end, double step, DType dtype, Device device) {
  VQ_CHECK(ShapeError, step != 0.0, "arange: step must be nonzero");
  double span = (end - start) / step;
  int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
  Tensor host = empty({n}, dtype, cpu_device());
  for (int64_t i = 0; i < n; ++i) {
    double v = start + static_cast<double>(i) * step;
    detail::cpu_fill(static_cast<char*>(host.raw_data()) + i * dtype_size(dtype), dtype, v, 1);
  }
  return host.to(device);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, Device device, float lo, float hi) {
  Tensor t = empty(shape, DType::f32, device);
  uint64_t base = gen.reserve(static_cast<uint64_t>(t.numel()));
  if (device.is_cpu()) {
    detail::cpu_rand_uniform(t.data<float>(), t.numel(), gen.seed(), base, lo, hi);
  } else {
#ifdef VQ_WITH_CUDA
    detail::cuda_rand_uniform(t.data<float>(), t.numel(), gen.seed(), base, lo, hi, device.index);
#endif
  }
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, Device device, float mean, float std) {
  Tensor t = empty(shape, DType::f32, device);
  uint64_t base = gen.reserve(static_cast<uint64_t>(t.numel()));
  if (device.is_cpu()) {
    detail::cpu_rand_normal(t.data<float>(), t.numel(), gen.seed(), base, mean, std);
  } else {
#ifdef VQ_WITH_CUDA
    detail::cuda_rand_normal(t.data<float>(), t.numel(), gen.seed(), base, mean, std, device.index);
#endif
  }
  return t;
}

Tensor Tensor::from_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype,
                          Device device) {
  check_shape_valid(shape, "Tensor::from_bytes");
  size_t want = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  VQ_CHECK(ShapeError, nbytes == want, "Tensor::from_bytes: ", nbytes, " bytes given for ",
                    dtype_name(dtype), shape_str(shape), " (", want, " bytes)");
  Tensor host = empty(shape, dtype, cpu_device());
  if (nbytes) std::memcpy(host.raw_data(), data, nbytes);
  return host.to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  return from_bytes(v.data(), v.size() * 4, shape, DType::f32, device);
}
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& shape, Device device) {
  return from_bytes(v.data(), v.size() * 8, shape, DType::i64, device);
}
Tensor Tensor::from_vector(const std::vector<int32_t>& v, const Shape& shape, Device device) {
  return from_bytes(v.data(), v.size() * 4, shape, DType::i32, device);
}
Tensor Tensor::from_vector(const std::vector<uint8_t>& v, const Shape& shape, DType dtype,
                           Device device) {
  VQ_CHECK(DTypeError, dtype_size(dtype) == 1, "Tensor::from_vector: uint8 data needs dtype u8 or bool, got ",
                    dtype_name(dtype));
  return from_bytes(v.data(), v.size(), shape, dtype, device);
}

// ---------------- metadata ----------------

int64_t Tensor::size(int64_t d) const { return shape_[wrap_dim(d, dim(), "Tensor::size")]; }
int64_t Tensor::stride(int64_t d) const { return strides_[wrap_dim(d, dim(), "Tensor::stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // nothing to lay out
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " " + device_.str();
}

void* Tensor::raw_data() const {
  check(defined(), "Tensor: access to the data of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

// ---------------- views ----------------

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
  check_shape_valid(shape, "as_strided");
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  return t;
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous())
    throw ShapeError(str_cat("view: tensor ", str(), " is not contiguous; use reshape() or contiguous()"));
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      VQ_CHECK(ShapeError, infer < 0, "view: more than one -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      VQ_CHECK(ShapeError, s[i] >= 0, "view: invalid extent in ", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    VQ_CHECK(ShapeError, known > 0 && numel() % known == 0, "view: cannot view ", shape_str(shape_),
                      " as ", shape_str(shape));
    s[infer] = numel() / known;
  }
  VQ_CHECK(ShapeError, shape_numel(s) == numel(), "view: cannot view ", shape_str(shape_), " (",
                    numel(), " elements) as ", shape_str(shape));
  return as_strided(s, contiguous_strides(s), offset_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  VQ_CHECK(ShapeError, start <= end, "flatten: start dim ", start, " after end dim ", end);
  Shape s(shape_.begin(), shape_.begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape_[i];
  s.push_back(m);
  s.insert(s.end(), shape_.begin() + end + 1, shape_.end());
  return reshape(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  VQ_CHECK(ShapeError, static_cast<int64_t>(dims.size()) == dim(), "permute: ", dims.size(),
                    " dims given for tensor of shape ", shape_str(shape_));
  Shape s(dims.size());
  Strides st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    VQ_CHECK(ShapeError, !seen[d], "permute: dim ", d, " repeated");
    seen[d] = true;
    s[i] = shape_[d];
    st[i] = strides_[d];
  }
  return as_strided(s, st, offset_);
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  a = wrap_dim(a, dim(), "transpose");
  b = wrap_dim(b, dim(), "transpose");
  Shape s = shape_;
  Strides st = strides_;
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  return as_strided(s, st, offset_);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  if (start < 0) start += shape_[d];
  VQ_CHECK(ShapeError, start >= 0 && length >= 0 && start + length <= shape_[d], "narrow: range [",
                    start, ", ", start + length, ") out of bounds for dim ", d, " of ", shape_str(shape_));
  Shape s = shape_;
  s[d] = length;
  return as_strided(s, strides_, offset_ + start * strides_[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  VQ_CHECK(ShapeError, step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape_;
  Strides st = strides_;
  s[d] = (end - start + step - 1) / step;
  st[d] = strides_[d] * step;
  return as_strided(s, st, offset_ + start * strides_[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  if (index < 0) index += shape_[d];
  VQ_CHECK(ShapeError, index >= 0 && index < shape_[d], "select: index ", index, " out of range for dim ",
                    d, " of ", shape_str(shape_));
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset_ + index * strides_[d]);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape_;
  Strides st = strides_;
  int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return as_strided(s, st, offset_);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape_[d] != 1) return *this;
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset_);
}

Tensor Tensor::squeeze() const {
  Shape s;
  Strides st;
  for (size_t i = 0; i < shape_.size(); ++i)
    if (shape_[i] != 1) {
      s.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  return as_strided(s, st, offset_);
}

Tensor Tensor::expand(const Shape& shape) const {
  VQ_CHECK(ShapeError, shape.size() >= shape_.size(), "expand: cannot expand ", shape_str(shape_),
                    " to fewer dims ", shape_str(shape));
  size_t lead = shape.size() - shape_.size();
  Shape s(shape.size());
  Strides st(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      VQ_CHECK(ShapeError, shape[i] >= 0, "expand: -1 not allowed in new leading dims of ", shape_str(shape));
      s[i] = shape[i];
      st[i] = 0;
      continue;
    }
    int64_t cur = shape_[i - lead];
    int64_t want = shape[i] == -1 ? cur : shape[i];
    VQ_CHECK(ShapeError, want == cur || cur == 1, "expand: cannot expand ", shape_str(shape_), " to ",
                      shape_str(shape));
    s[i] = want;
    st[i] = (want == cur) ? strides_[i - lead] : 0;
  }
  return as_strided(s, st, offset_);
}

// ---------------- copies ----------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = make_empty(shape_, dtype_, device_);
  copy_same(out, *this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = make_empty(shape_, dtype_, device_);
  copy_same(out, *this);
  return out;
}

Tensor Tensor::to(Device device) const {
  if (device == device_) return *this;
  Tensor src = contiguous();
  Tensor out = make_empty(shape_, dtype_, device);
#ifdef VQ_WITH_CUDA
  using detail::CopyKind;
  if (device.is_cuda() && device_.is_cpu()) {
    detail::cuda_memcpy(out.raw_data(), src.raw_data(), nbytes(), CopyKind::HostToDevice, device.index);
  } else if (device.is_cpu() && device_.is_cuda()) {
    detail::cuda_memcpy(out.raw_data(), src.raw_data(), nbytes(), CopyKind::DeviceToHost, device_.index);
  } else {
    Tensor host = src.to(cpu_device());
    return host.to(device);
  }
#endif
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor src = contiguous();
  Tensor out = make_empty(shape_, dtype, device_);
  if (device_.is_cpu()) {
    detail::cpu_cast(out.raw_data(), dtype, src.raw_data(), dtype_, numel());
  } else {
#ifdef VQ_WITH_CUDA
    detail::cuda_cast(out.raw_data(), dtype, src.raw_data(), dtype_, numel(), device_.index);
#endif
  }
  return out;
}

void Tensor::copy_untracked_(const Tensor& src) {
  check(defined() && src.defined(), "copy_: undefined tensor");
  Tensor s = src;
  if (s.shape_ != shape_) s = s.expand(shape_);
  if (s.dtype_ != dtype_) s = s.to(dtype_);
  if (s.device_ != device_) s = s.to(device_);
  copy_same(*this, s);
}

void Tensor::copy_(const Tensor& src) {
  copy_untracked_(src);
  bump_version();
}

void Tensor::fill_(double value) {
  check(defined(), "fill_: undefined tensor");
  if (!is_contiguous()) {
    copy_(full(shape_, value, dtype_, device_));
    return;
  }
  if (device_.is_cpu()) {
    detail::cpu_fill(raw_data(), dtype_, value, numel());
  } else {
#ifdef VQ_WITH_CUDA
    detail::cuda_fill(raw_data(), dtype_, value, numel(), device_.index);
#endif
  }
  bump_version();
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  VQ_CHECK(DTypeError, DTypeOf<T>::value == dtype_ || (dtype_ == DType::boolean && sizeof(T) == 1),
                    "to_vector: tensor is ", dtype_name(dtype_), ", requested ",
                    dtype_name(DTypeOf<T>::value));
  Tensor host = contiguous().to(cpu_device());
  std::vector<T> v(static_cast<size_t>(numel()));
  if (!v.empty()) std::memcpy(v.data(), host.raw_data(), v.size() * sizeof(T));
  return v;
}

template <typename T>
T Tensor::item() const {
  if (numel() != 1) throw ShapeError(str_cat("item: tensor ", str(), " has ", numel(), " elements, expected 1"));
  return to_vector<T>()[0];
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int32_t Tensor::item<int32_t>() const;
template uint8_t Tensor::item<uint8_t>() const;

void check_same_device(const char* op, const std::vector<const Tensor*>& ts) {
  for (const Tensor* t : ts) {
    check(t->defined(), op, ": undefined tensor argument");
    VQ_CHECK(DeviceError, t->device() == ts[0]->device(), op, ": tensors on different devices: ",
                       ts[0]->str(), " and ", t->str());
  }
}

void check_dtype(const char* op, const char* what, const Tensor& t, DType want) {
  if (t.dtype() != want)
    throw DTypeError(str_cat(op, ": ", what, " must be ", dtype_name(want), ", got ", t.str()));
}

}  // namespace vq
