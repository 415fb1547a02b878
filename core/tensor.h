// Tensor: a value handle over a Storage with shape, element strides, offset, dtype
// and device. Copying a Tensor shares memory; clone() copies data. Views (reshape of
// a contiguous tensor, permute, transpose, narrow/slice, select, unsqueeze, squeeze,
// expand) share storage. Raw kernels want contiguous row-major data: call
// contiguous(), which is free when the tensor already is.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/shape.h"
#include "core/storage.h"

namespace vq {

class Tensor {
 public:
  Tensor() = default;  // undefined tensor; defined() is false

  // ---- factories (all throw on bad shapes / unsupported devices) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = cpu_device());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = cpu_device());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = cpu_device());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = cpu_device());
  // [start, end) with step, like torch.arange; dtype i64 or f32.
  static Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::i64,
                       Device device = cpu_device());
  static Tensor arange(int64_t end, DType dtype = DType::i64, Device device = cpu_device()) {
    return arange(0.0, static_cast<double>(end), 1.0, dtype, device);
  }
  // Uniform [lo, hi) / normal(mean, std), f32, from a Philox generator: the same numbers
  // on every device for the same generator state.
  static Tensor rand(const Shape& shape, Generator& gen, Device device = cpu_device(), float lo = 0.f,
                     float hi = 1.f);
  static Tensor randn(const Shape& shape, Generator& gen, Device device = cpu_device(),
                      float mean = 0.f, float std = 1.f);
  // Copies host data (size must equal numel(shape)).
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device = cpu_device());
  static Tensor from_vector(const std::vector<int64_t>& v, const Shape& shape,
                            Device device = cpu_device());
  static Tensor from_vector(const std::vector<int32_t>& v, const Shape& shape,
                            Device device = cpu_device());
  static Tensor from_vector(const std::vector<uint8_t>& v, const Shape& shape, DType dtype,
                            Device device = cpu_device());
  // Braced lists of numbers are f32 data: from_vector({1, 2}, {2}).
  static Tensor from_vector(std::initializer_list<float> v, const Shape& shape,
                            Device device = cpu_device()) {
    return from_vector(std::vector<float>(v), shape, device);
  }
  static Tensor scalar(float v, Device device = cpu_device()) {
    return from_vector(std::vector<float>{v}, Shape{}, device);
  }
  // Copies raw bytes of any dtype (nbytes must equal numel * dtype_size).
  static Tensor from_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype,
                           Device device = cpu_device());

  // ---- metadata ----
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::string str() const;  // "f32[2, 3] cpu"

  // ---- raw data (pointer at offset; checks dtype) ----
  template <typename T>
  T* data() const {
    VQ_CHECK(DTypeError, DTypeOf<T>::value == dtype_ ||
                          (dtype_ == DType::boolean && DTypeOf<T>::value == DType::u8),
                      "Tensor::data: tensor is ", dtype_name(dtype_), ", requested ",
                      dtype_name(DTypeOf<T>::value));
    return reinterpret_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // ---- views ----
  Tensor view(const Shape& shape) const;     // requires contiguous; one -1 allowed
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes dim
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;  // no-op if size(dim) != 1
  Tensor squeeze() const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size; new leading dims allowed
  Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;

  // ---- copies and conversion ----
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;  // same tensor if already there
  Tensor to(DType dtype) const;    // cast (f32<->bf16/f16/f64/i64/i32/u8/bool)
  // Copies src into this tensor (shapes must match; broadcasts src; casts dtype).
  void copy_(const Tensor& src);
  // Like copy_ but leaves the version counter alone: PyTorch's `t.data.copy_(src)`.
  // For buffers that an autograd graph may have saved and that the reference updates
  // through .data (EMA codebooks): the pending backward then sees the new values, as in
  // the reference. Never use it on tensors whose old value a backward needs.
  void copy_untracked_(const Tensor& src);
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- host read-back (synchronizes CUDA) ----
  template <typename T>
  std::vector<T> to_vector() const;
  template <typename T>
  T item() const;

  // In-place ops call this so autograd can detect a saved tensor that changed.
  void bump_version() const { storage_->bump_version(); }
  uint64_t version() const { return storage_ ? storage_->version() : 0; }
  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::f32;
  Device device_;
};

// Throws DeviceError unless all tensors share a device; `op` names the caller.
void check_same_device(const char* op, const std::vector<const Tensor*>& ts);
// Throws DTypeError unless t has dtype `want`; `what` names the argument.
void check_dtype(const char* op, const char* what, const Tensor& t, DType want);

}  // namespace vq
