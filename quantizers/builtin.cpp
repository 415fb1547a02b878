// The list of built-in quantizers: one line per module family. A module adds its
// register function's declaration and call here.
#include "quantizers/builtin.h"

namespace vq {

void register_builtin_quantizers() {
  // e.g. register_vector_quantize(); register_fsq(); register_lfq(); ...
}

}  // namespace vq
