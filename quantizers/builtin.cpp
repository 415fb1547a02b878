// The list of built-in quantizers: one line per module family. A module adds its
// register function's declaration and call here.
#include "quantizers/builtin.h"

#include "quantizers/binary_mapper.h"
#include "quantizers/fsp.h"
#include "quantizers/fsq.h"
#include "quantizers/grouped_residual_vq.h"
#include "quantizers/hierarchical_vq.h"
#include "quantizers/latent_quantize.h"
#include "quantizers/lfq.h"
#include "quantizers/residual_fsq.h"
#include "quantizers/residual_lfq.h"
#include "quantizers/random_projection.h"
#include "quantizers/residual_sim_vq.h"
#include "quantizers/residual_vq.h"
#include "quantizers/sim_vq.h"
#include "quantizers/vector_quantize.h"

namespace vq {

void register_builtin_quantizers() {
  register_vector_quantize();
  register_fsq();
  register_lfq();
  register_residual_fsq();
  register_residual_lfq();
  register_residual_vq();
  register_grouped_residual_vq();
  register_random_projection_quantizer();
  register_sim_vq();
  register_residual_sim_vq();
  register_latent_quantize();
  register_fsp();
  register_binary_mapper();
  register_hierarchical_vq();
}

}  // namespace vq
