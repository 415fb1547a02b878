// The process-default communicator.
#include "dist/comm.h"

#include <mutex>

namespace vq::dist {

namespace {
std::mutex g_mu;
std::shared_ptr<Comm>& slot() {
  static std::shared_ptr<Comm> c = std::make_shared<SingleProcessComm>();
  return c;
}
}  // namespace

std::shared_ptr<Comm> default_comm() {
  std::lock_guard<std::mutex> lk(g_mu);
  return slot();
}

void set_default_comm(std::shared_ptr<Comm> comm) {
  VQ_CHECK(ConfigError, comm != nullptr, "set_default_comm: null communicator");
  std::lock_guard<std::mutex> lk(g_mu);
  slot() = std::move(comm);
}

}  // namespace vq::dist
