// `echo`: copies input "data" to output "data" unchanged. The smallest
// end-to-end check of the function path (upload, run, download).
#pragma once

#include <memory>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

std::unique_ptr<Function> MakeEcho();

}  // namespace cloister::functions::builtin
