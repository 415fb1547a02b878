// Subcommands whose issues have not landed yet: each says so and fails, so nobody
// mistakes them for working commands. Removed as each command lands.
#include "apps/commands.h"
#include "core/error.h"

namespace vq::app {

int cmd_train(int, char**) { throw Error("vq train is not available yet (issue 7)"); }
int cmd_eval(int, char**) { throw Error("vq eval is not available yet (issue 7)"); }
int cmd_bench(int, char**) { throw Error("vq bench is not available yet (issue 4)"); }

}  // namespace vq::app
