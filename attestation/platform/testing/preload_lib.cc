// A tiny shared library for the platform's injection tests: loaded with
// LD_PRELOAD, LD_AUDIT (it is a valid audit module: la_version) or dlopen
// into a genuine test client, it stands for an attacker's code. It does
// nothing; being mapped executable is the point.
#include <cstdint>

extern "C" {
__attribute__((visibility("default"))) unsigned int la_version(unsigned int version) {
  return version;
}
__attribute__((visibility("default"))) int cloister_injected_marker() { return 42; }
}
