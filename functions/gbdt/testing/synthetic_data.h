// Deterministic synthetic data for GBDT tests and benchmarks: a nonlinear
// target with interactions, noise and missing values, identical on every
// platform for a given seed.
//
//   SyntheticData d = MakeSynthetic(20000, 10, Objective::kBinary, /*seed=*/1);
//   std::string csv = ToCsv(d, "y");
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "functions/gbdt/dense_matrix.h"
#include "functions/gbdt/gbdt_params.h"
#include "functions/gbdt/internal/split_mix64.h"

namespace cloister::functions::gbdt::testing {

struct SyntheticData {
  DenseMatrix x;
  std::vector<float> y;
  std::vector<std::string> names;  // "x0", "x1", ...
};

// The shared generator plus normal deviates for the noise.
class NormalRng : public internal::SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  double Normal() {  // Box-Muller; one value per call keeps it simple
    const double u1 = Uniform() + 1e-300, u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// features >= 6. Features uniform in [-2, 2]; the target depends on x0..x5
// (sine, product interaction, a step, a square), the rest are distractors.
// Each of x0..x2 is missing with probability missing_rate (after the target
// is computed, so missingness hides information as in real data).
// Regression: y = f + N(0, 0.5^2). Binary: y = [f + N(0, 1) > 0].
inline SyntheticData MakeSynthetic(size_t rows, size_t features, Objective objective,
                                   uint64_t seed, double missing_rate = 0.05) {
  SyntheticData d{DenseMatrix(rows, features), std::vector<float>(rows), {}};
  for (size_t f = 0; f < features; ++f) d.names.push_back("x" + std::to_string(f));
  NormalRng rng(seed);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t f = 0; f < features; ++f)
      d.x.at(r, f) = static_cast<float>(rng.Uniform() * 4.0 - 2.0);
    const double x0 = d.x.at(r, 0), x1 = d.x.at(r, 1), x2 = d.x.at(r, 2), x3 = d.x.at(r, 3),
                 x4 = d.x.at(r, 4), x5 = d.x.at(r, 5);
    const double target = 2.0 * std::sin(1.5 * x0) + x1 * x2 + (x3 > 0.3 ? 1.5 : -1.0) * std::fabs(x4) +
                     0.5 * x5 * x5 - 1.0;
    if (objective == Objective::kRegression) {
      d.y[r] = static_cast<float>(target + 0.5 * rng.Normal());
    } else {
      d.y[r] = target + rng.Normal() > 0 ? 1.0f : 0.0f;
    }
    for (size_t f = 0; f < 3; ++f)
      if (rng.Uniform() < missing_rate) d.x.at(r, f) = std::nanf("");
  }
  return d;
}

// CSV with header "x0,...,label" (label last); missing values as empty cells.
inline std::string ToCsv(const SyntheticData& d, const std::string& label) {
  std::string out;
  for (const auto& n : d.names) out += n + ",";
  out += label + "\n";
  char buf[32];
  for (size_t r = 0; r < d.x.rows(); ++r) {
    for (size_t f = 0; f < d.x.cols(); ++f) {
      const float v = d.x.at(r, f);
      if (!std::isnan(v)) {
        std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
        out += buf;
      }
      out += ',';
    }
    std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(d.y[r]));
    out += buf;
    out += '\n';
  }
  return out;
}

}  // namespace cloister::functions::gbdt::testing
