// `linreg_train` and `linreg_predict`: ordinary least squares and ridge
// regression over CSV data. Numerics in least_squares.h, model format in
// linreg_model.h, user reference in docs/functions.md.
#pragma once

#include <memory>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

std::unique_ptr<Function> MakeLinregTrain();
std::unique_ptr<Function> MakeLinregPredict();

}  // namespace cloister::functions::builtin
