// Dense least squares for `linreg_train`: OLS and ridge with an optional
// intercept, fast and numerically careful.
//
//   LeastSquaresProblem p{.xy = values, .rows = n, .cols = k};
//   CLOISTER_ASSIGN_OR_RETURN(LeastSquaresFit fit, SolveLeastSquares(p, {}));
//
// Method. Columns are centred (when fitting an intercept) and the Gram
// matrix XᵀX is accumulated in blocks (on several threads when the data is
// large), then scaled to unit diagonal (Jacobi scaling makes the condition
// number independent of column units) and Cholesky-factored. The exact 1-norm
// condition number of the scaled matrix is computed from its inverse; when it
// exceeds `max_condition` the normal equations would lose too many digits, so
// the fit is recomputed with Householder QR on the centred data itself
// (streamed block by block, so no copy of X is made), which is backward
// stable. Ridge adds λ‖β‖² (intercept unpenalised) in both paths (in QR as
// √λ·I rows below X).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::functions::builtin {

struct LeastSquaresProblem {
  // rows × (cols + 1), row-major: each row is the features, then the label
  // (the layout ReadNumeric produces, so no copy is needed).
  std::span<const double> xy;
  size_t rows = 0;
  size_t cols = 0;
  std::span<const std::string> names;  // cols column names, for errors
};

struct LeastSquaresOptions {
  double lambda = 0;
  bool intercept = true;
  // Scaled-Gram 1-norm condition number above which QR is used.
  double max_condition = 1e6;
  // 0: pick from the problem size and std::thread::hardware_concurrency().
  int threads = 0;
  bool force_qr = false;  // for tests and benchmarks
};

struct LeastSquaresFit {
  std::vector<double> coefficients;  // cols, in the input's column order
  double intercept = 0;
  double r2 = 0;
  double rmse = 0;
  double condition = 0;  // 1-norm condition estimate of the scaled Gram matrix
  std::string solver;    // "cholesky" or "qr"
};

// InvalidArgument naming the column(s) when a column is constant (with an
// intercept), all zero, or a linear combination of others — unless lambda > 0,
// which makes the problem well-posed. InvalidArgument also when rows are too
// few for the number of coefficients (OLS only).
Result<LeastSquaresFit> SolveLeastSquares(const LeastSquaresProblem& p,
                                          const LeastSquaresOptions& opts);

}  // namespace cloister::functions::builtin
