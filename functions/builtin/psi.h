// `psi`: private set intersection for 2..64 parties. Each party uploads
// "set.<party>" and receives only "result.<party>": its own identifiers that
// every party holds (or a 0/1 flag per own row). Nothing outside the
// intersection, and nothing about other parties' inputs beyond membership of
// its own identifiers, reaches any output. Reference: docs/functions.md.
#pragma once

#include <memory>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

std::unique_ptr<Function> MakePsi();

}  // namespace cloister::functions::builtin
