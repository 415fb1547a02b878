// Comm: the communicator through which quantizers agree on statistics across
// processes (EMA counts and sums, k-means means, dead-code refills, affine statistics,
// learnable-codebook gradients, LFQ entropy averages). Quantizers take a Comm by
// shared_ptr; SingleProcessComm (the default) makes every collective a no-op. An MPI
// implementation (dist/mpi_comm.*) comes with its own issue.
// All tensors are contiguous f32 or i64 on any device; collectives are in place.
#pragma once
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace vq::dist {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool distributed() const { return size() > 1; }
  // Sum over ranks, in place. Throws CommError on failure.
  virtual void all_reduce_sum(Tensor& t) = 0;
  // Copies root's tensor into every rank's `t` (same shape/dtype everywhere).
  virtual void broadcast(Tensor& t, int root = 0) = 0;
  // Concatenates each rank's `local` along dim 0 in rank order (sizes may differ).
  virtual Tensor all_gather_v(const Tensor& local) = 0;
  virtual void barrier() = 0;
};

// One process: rank 0 of 1; every collective leaves its input unchanged.
class SingleProcessComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(Tensor&) override {}
  void broadcast(Tensor&, int) override {}
  Tensor all_gather_v(const Tensor& local) override { return local; }
  void barrier() override {}
};

// The process default (SingleProcessComm unless set_default_comm was called).
std::shared_ptr<Comm> default_comm();
void set_default_comm(std::shared_ptr<Comm> comm);

}  // namespace vq::dist
