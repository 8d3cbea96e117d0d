// CLOISTER_SKIP_UNLESS_CI(why): a test that needs something a developer's
// machine may lack (root, a system library) skips there, but FAILS when
// CI=true — the CI machine has it, so a skip there would hide a security
// test that never ran.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

#define CLOISTER_SKIP_UNLESS_CI(why)                                                   \
  do {                                                                                \
    const char* ci_ = std::getenv("CI");                                              \
    if (ci_ != nullptr && std::string_view(ci_) == "true") FAIL() << "CI: " << (why); \
    GTEST_SKIP() << (why);                                                            \
  } while (0)
