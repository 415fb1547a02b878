// Subcommands whose issues have not landed yet: each says so and fails, so nobody
// mistakes them for working commands. Removed as each command lands.
#include "apps/commands.h"
#include "core/error.h"

namespace vq::app {


}  // namespace vq::app
