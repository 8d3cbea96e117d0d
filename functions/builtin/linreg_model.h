// The `linreg` model file: what linreg_train writes and linreg_predict reads.
//
// JSON, one object (documented in docs/functions.md):
//   {"format":"cloister.linreg.v1","label":"y","features":["x1","x2"],
//    "coefficients":[0.5,-2],"intercept":1.25,"fit_intercept":true,"lambda":0}
// Doubles are written in shortest round-trip form, so a model read back
// predicts bit-identically.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::functions::builtin {

inline constexpr std::string_view kLinregFormat = "cloister.linreg.v1";

struct LinregModel {
  std::string label;
  std::vector<std::string> features;
  std::vector<double> coefficients;
  double intercept = 0;
  bool fit_intercept = true;
  double lambda = 0;
};

std::string SerializeLinregModel(const LinregModel& m);
// InvalidArgument [LINREG_BAD_MODEL] on anything but a well-formed v1 model:
// wrong format tag, mismatched lengths, duplicate or empty feature names,
// non-finite numbers, unknown fields.
Result<LinregModel> ParseLinregModel(std::string_view text);

}  // namespace cloister::functions::builtin
