// Registration of the built-in quantizers. Each module .cpp defines its
// register_<module>() function (which calls register_quantizer for its class
// names); register_builtin_quantizers() calls them all once, lazily, on the first
// registry lookup.
#pragma once

namespace vq {

void register_builtin_quantizers();

}  // namespace vq
