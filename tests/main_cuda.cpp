// Entry point of the CUDA comparison suite. Each case compares a CUDA kernel with its
// CPU twin. Without a usable GPU the program exits 77, which ctest reports as
// "skipped" (listing test cases still works, so ctest can discover them).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

#include "core/device.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strstr(argv[i], "list-test-cases") || std::strstr(argv[i], "-ltc")) listing = true;
  if (!listing && !vq::cuda_available()) {
    std::printf("no CUDA device available: CUDA comparison cases skipped\n");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
