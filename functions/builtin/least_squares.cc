// Gram/Cholesky least squares with a condition check and a streamed
// Householder-QR fallback; see least_squares.h for the method.
#include "functions/builtin/least_squares.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace cloister::functions::builtin {
namespace {

// Rows per accumulation block: partial sums over a block are added to the
// running totals, which keeps rounding error near O(block + n/block)·ε
// instead of O(n)·ε, and a block of a few dozen columns stays in L1/L2.
constexpr size_t kBlockRows = 256;

// Splits [0, n) into `threads` contiguous chunks and runs fn(begin, end, t).
template <typename Fn>
void ParallelChunks(size_t n, int threads, Fn fn) {
  if (threads <= 1 || n < 2 * kBlockRows) {
    fn(size_t{0}, n, 0);
    return;
  }
  std::vector<std::jthread> pool;
  const size_t per = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    const size_t b = std::min(n, per * t), e = std::min(n, per * (t + 1));
    pool.emplace_back([&fn, b, e, t] { fn(b, e, t); });
  }
  fn(size_t{0}, std::min(n, per), 0);
}  // jthreads join here

int PickThreads(const LeastSquaresProblem& p, int requested) {
  if (requested > 0) return requested;
  // Below ~10^7 multiply-adds a thread costs more than it saves.
  const double work = static_cast<double>(p.rows) * (p.cols + 1) * (p.cols + 1);
  if (work < 1e7) return 1;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(std::min(hw, 8u));
}

// block = upper triangle of ZᵀZ for a row-major rows×m block Z. Rank-4
// updates: each accumulator row is loaded and stored once per four data
// rows, and the j loop (independent sums) vectorises. Cloned for AVX2 with
// run-time dispatch: the baseline x86-64 build only has SSE2.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=haswell", "default")))
#endif
void AccumulateBlock(const double* z, size_t rows, size_t m, double* block) {
  std::fill(block, block + m * m, 0.0);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const double* z0 = &z[r * m];
    const double* z1 = z0 + m;
    const double* z2 = z1 + m;
    const double* z3 = z2 + m;
    for (size_t i = 0; i < m; ++i) {
      const double a0 = z0[i], a1 = z1[i], a2 = z2[i], a3 = z3[i];
      double* acc = &block[i * m];
      for (size_t j = i; j < m; ++j)
        acc[j] += (a0 * z0[j] + a1 * z1[j]) + (a2 * z2[j] + a3 * z3[j]);
    }
  }
  for (; r < rows; ++r) {
    const double* zr = &z[r * m];
    for (size_t i = 0; i < m; ++i) {
      const double zi = zr[i];
      double* acc = &block[i * m];
      for (size_t j = i; j < m; ++j) acc[j] += zi * zr[j];
    }
  }
}

// Upper triangle of ZᵀZ for Z = [X | y] - shift, m = cols + 1, row-major
// m×m; also the column sums of Z into `sums`.
std::vector<double> ShiftedGram(const LeastSquaresProblem& p, std::span<const double> mean,
                                int threads, std::vector<double>& sums) {
  const size_t k = p.cols, m = k + 1;
  std::vector<std::vector<double>> partial(threads, std::vector<double>(m * m, 0.0));
  std::vector<std::vector<double>> partial_sums(threads, std::vector<double>(m, 0.0));
  ParallelChunks(p.rows, threads, [&](size_t begin, size_t end, int t) {
    std::vector<double> z(kBlockRows * m), block(m * m), block_sums(m);
    std::vector<double>& total = partial[t];
    for (size_t b = begin; b < end; b += kBlockRows) {
      const size_t rows = std::min(kBlockRows, end - b);
      std::fill(block_sums.begin(), block_sums.end(), 0.0);
      for (size_t r = 0; r < rows; ++r) {
        const double* x = &p.xy[(b + r) * m];
        double* zr = &z[r * m];
        for (size_t j = 0; j < m; ++j) {
          zr[j] = x[j] - mean[j];
          block_sums[j] += zr[j];
        }
      }
      for (size_t j = 0; j < m; ++j) partial_sums[t][j] += block_sums[j];
      AccumulateBlock(z.data(), rows, m, block.data());
      for (size_t i = 0; i < m * m; ++i) total[i] += block[i];
    }
  });
  sums.assign(m, 0.0);
  for (int t = 0; t < threads; ++t)
    for (size_t j = 0; j < m; ++j) sums[j] += partial_sums[t][j];
  for (int t = 1; t < threads; ++t)
    for (size_t i = 0; i < m * m; ++i) partial[0][i] += partial[t][i];
  return std::move(partial[0]);
}

// Gram matrix of the centred [X | y] (raw when !intercept) and the means.
// One pass in the common case: accumulate around a shift s (the mean of the
// first rows), then Σ(x-x̄)(x-x̄)ᵀ = Σ(x-s)(x-s)ᵀ - n·d·dᵀ with d = x̄ - s.
// That subtraction cancels digits only when d is large next to the spread
// (e.g. data sorted by a column); if any column would lose more than ~2
// bits (n·d² > 3·G_jj), a second pass centres on the exact mean instead.
std::vector<double> CenteredGram(const LeastSquaresProblem& p, bool intercept, int threads,
                                 std::vector<double>& mean) {
  const size_t m = p.cols + 1;
  const double n = static_cast<double>(p.rows);
  std::vector<double> shift(m, 0.0), sums;
  if (!intercept) {
    mean = shift;
    return ShiftedGram(p, shift, threads, sums);
  }
  const size_t head = std::min<size_t>(p.rows, 1024);
  for (size_t r = 0; r < head; ++r)
    for (size_t j = 0; j < m; ++j) shift[j] += p.xy[r * m + j];
  for (double& v : shift) v /= static_cast<double>(head);
  std::vector<double> g = ShiftedGram(p, shift, threads, sums);
  mean.resize(m);
  std::vector<double> d(m);
  for (size_t j = 0; j < m; ++j) {
    d[j] = sums[j] / n;
    mean[j] = shift[j] + d[j];
  }
  bool exact = true;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = i; j < m; ++j) g[i * m + j] -= n * d[i] * d[j];
    if (n * d[i] * d[i] > 3 * g[i * m + i]) exact = false;
  }
  if (exact) return g;
  return ShiftedGram(p, mean, threads, sums);
}

// In-place Cholesky of the k×k symmetric matrix (upper triangle given),
// producing lower L row-major. False if not numerically positive definite.
bool Cholesky(std::vector<double>& a, size_t k) {
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = j; i < k; ++i) a[i * k + j] = a[j * k + i];  // mirror to lower
  }
  for (size_t j = 0; j < k; ++j) {
    double d = a[j * k + j];
    for (size_t q = 0; q < j; ++q) d -= a[j * k + q] * a[j * k + q];
    if (!(d > 0)) return false;
    const double l = std::sqrt(d);
    a[j * k + j] = l;
    for (size_t i = j + 1; i < k; ++i) {
      double s = a[i * k + j];
      for (size_t q = 0; q < j; ++q) s -= a[i * k + q] * a[j * k + q];
      a[i * k + j] = s / l;
    }
  }
  return true;
}

// Solves L Lᵀ x = b in place.
void CholeskySolve(const std::vector<double>& l, size_t k, std::vector<double>& b) {
  for (size_t i = 0; i < k; ++i) {
    double s = b[i];
    for (size_t q = 0; q < i; ++q) s -= l[i * k + q] * b[q];
    b[i] = s / l[i * k + i];
  }
  for (size_t i = k; i-- > 0;) {
    double s = b[i];
    for (size_t q = i + 1; q < k; ++q) s -= l[q * k + i] * b[q];
    b[i] = s / l[i * k + i];
  }
}

// ‖A‖₁·‖A⁻¹‖₁ from A's Cholesky factor: O(k³), trivial next to forming A.
double ConditionOne(const std::vector<double>& a_upper, const std::vector<double>& l,
                    size_t k) {
  double norm_a = 0, norm_inv = 0;
  std::vector<double> col(k);
  for (size_t j = 0; j < k; ++j) {
    double s = 0;
    for (size_t i = 0; i < k; ++i) s += std::fabs(i <= j ? a_upper[i * k + j] : a_upper[j * k + i]);
    norm_a = std::max(norm_a, s);
    std::fill(col.begin(), col.end(), 0.0);
    col[j] = 1;
    CholeskySolve(l, k, col);
    s = 0;
    for (double v : col) s += std::fabs(v);
    norm_inv = std::max(norm_inv, s);
  }
  return norm_a * norm_inv;
}

// Upper-triangular m×m R of the centred [X | y] (with √λ·I rows for ridge),
// built by folding blocks of rows into R with Householder reflections that
// exploit R's triangular shape. Row-major R.
class StreamingQr {
 public:
  explicit StreamingQr(size_t m) : m_(m), r_(m * m, 0.0) {}

  // Folds `rows` rows (row-major, m wide) into R.
  void Fold(const double* block, size_t rows) {
    // Column-major copy: each reflection then walks contiguous memory.
    w_.assign(m_ * rows, 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < m_; ++j) w_[j * rows + r] = block[r * m_ + j];
    for (size_t j = 0; j < m_; ++j) {
      double* v = &w_[j * rows];
      double sq = 0;
      for (size_t r = 0; r < rows; ++r) sq += v[r] * v[r];
      if (sq == 0) continue;  // nothing below the diagonal to annihilate
      const double alpha = r_[j * m_ + j];
      const double norm = std::sqrt(alpha * alpha + sq);
      const double beta = alpha > 0 ? -norm : norm;  // avoid cancellation
      const double v0 = alpha - beta;
      // H = I - τ·u·uᵀ with u = (v0, v); τ = 2 / (uᵀu)
      const double tau = 2.0 / (v0 * v0 + sq);
      r_[j * m_ + j] = beta;
      for (size_t c = j + 1; c < m_; ++c) {
        double* wc = &w_[c * rows];
        double dot = v0 * r_[j * m_ + c];
        for (size_t r = 0; r < rows; ++r) dot += v[r] * wc[r];
        dot *= tau;
        r_[j * m_ + c] -= dot * v0;
        for (size_t r = 0; r < rows; ++r) wc[r] -= dot * v[r];
      }
    }
  }
  void Merge(const StreamingQr& other) { Fold(other.r_.data(), m_); }
  const std::vector<double>& r() const { return r_; }

 private:
  size_t m_;
  std::vector<double> r_;
  std::vector<double> w_;
};

std::string Quoted(std::span<const std::string> names, size_t j) {
  return "'" + (j < names.size() ? names[j] : "x" + std::to_string(j + 1)) + "'";
}

// R = qr(centred [X|y]); names the first column whose new direction is
// negligible next to its own length, and the earlier columns it depends on.
Status CheckRank(const std::vector<double>& r, size_t k, std::span<const double> col_norm,
                 std::span<const std::string> names) {
  const size_t m = k + 1;
  for (size_t j = 0; j < k; ++j) {
    if (std::fabs(r[j * m + j]) > 1e-9 * col_norm[j]) continue;
    // x_j ≈ Σ c_i x_i with R[:j,:j] c = R[:j,j].
    std::vector<double> c(j);
    for (size_t i = j; i-- > 0;) {
      double s = r[i * m + j];
      for (size_t q = i + 1; q < j; ++q) s -= r[i * m + q] * c[q];
      c[i] = r[i * m + i] != 0 ? s / r[i * m + i] : 0;
    }
    std::string deps;
    for (size_t i = 0; i < j; ++i) {
      if (std::fabs(c[i]) * col_norm[i] <= 1e-6 * col_norm[j]) continue;
      if (!deps.empty()) deps += ", ";
      deps += Quoted(names, i);
    }
    return InvalidArgument("column " + Quoted(names, j) + " is collinear with " +
                               (deps.empty() ? std::string("earlier columns") : deps) +
                               "; drop it or set lambda > 0",
                           "LINREG_COLLINEAR");
  }
  return OkStatus();
}

Result<std::vector<double>> SolveQr(const LeastSquaresProblem& p, const LeastSquaresOptions& o,
                                    std::span<const double> mean,
                                    std::span<const double> col_norm, int threads) {
  const size_t k = p.cols, m = k + 1;
  std::vector<StreamingQr> parts(threads, StreamingQr(m));
  ParallelChunks(p.rows, threads, [&](size_t begin, size_t end, int t) {
    std::vector<double> z(kBlockRows * m);
    for (size_t b = begin; b < end; b += kBlockRows) {
      const size_t rows = std::min(kBlockRows, end - b);
      for (size_t r = 0; r < rows; ++r) {
        for (size_t j = 0; j < m; ++j) z[r * m + j] = p.xy[(b + r) * m + j] - mean[j];
      }
      parts[t].Fold(z.data(), rows);
    }
  });
  for (int t = 1; t < threads; ++t) parts[0].Merge(parts[t]);
  if (o.lambda > 0) {
    std::vector<double> penalty(k * m, 0.0);
    for (size_t j = 0; j < k; ++j) penalty[j * m + j] = std::sqrt(o.lambda);
    parts[0].Fold(penalty.data(), k);
  } else {
    CLOISTER_RETURN_IF_ERROR(CheckRank(parts[0].r(), k, col_norm, p.names));
  }
  const auto& r = parts[0].r();
  std::vector<double> beta(k);
  for (size_t i = k; i-- > 0;) {
    double s = r[i * m + k];
    for (size_t q = i + 1; q < k; ++q) s -= r[i * m + q] * beta[q];
    if (r[i * m + i] == 0)
      return InvalidArgument("column " + Quoted(p.names, i) + " is degenerate",
                             "LINREG_COLLINEAR");
    beta[i] = s / r[i * m + i];
  }
  return beta;
}

}  // namespace

Result<LeastSquaresFit> SolveLeastSquares(const LeastSquaresProblem& p,
                                          const LeastSquaresOptions& o) {
  const size_t k = p.cols, m = k + 1;
  if (k == 0) return InvalidArgument("linear regression needs at least one feature column",
                                     "LINREG_NO_FEATURES");
  if (p.xy.size() != p.rows * m)
    return Internal("least squares: matrix shape mismatch");
  const size_t needed = k + (o.intercept ? 1 : 0);
  if (o.lambda == 0 && p.rows < needed)
    return InvalidArgument("linear regression with " + std::to_string(needed) +
                               " coefficients needs at least that many rows, got " +
                               std::to_string(p.rows) + " (or set lambda > 0)",
                           "LINREG_TOO_FEW_ROWS");
  if (p.rows == 0) return InvalidArgument("no data rows", "LINREG_TOO_FEW_ROWS");
  const int threads = PickThreads(p, o.threads);

  std::vector<double> mean;
  std::vector<double> g = CenteredGram(p, o.intercept, threads, mean);

  // Constant (with an intercept) or all-zero columns carry no information;
  // say which instead of reporting a singular matrix.
  std::vector<double> col_norm(k), scale(k);
  for (size_t j = 0; j < k; ++j) {
    const double gjj = g[j * m + j];
    col_norm[j] = std::sqrt(gjj);
    const double floor = 1e-12 * std::fabs(mean[j]);
    const bool flat = gjj == 0 || gjj <= static_cast<double>(p.rows) * floor * floor;
    if (flat && o.lambda == 0)
      return InvalidArgument("column " + Quoted(p.names, j) +
                                 (o.intercept ? " is constant" : " is all zero") +
                                 "; drop it or set lambda > 0",
                             "LINREG_CONSTANT_COLUMN");
    scale[j] = gjj > 0 ? 1.0 / col_norm[j] : 1.0;
  }

  LeastSquaresFit fit;
  std::vector<double> beta;
  bool use_qr = o.force_qr;
  if (!use_qr) {
    std::vector<double> a(k * k), rhs(k);
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = i; j < k; ++j) a[i * k + j] = g[i * m + j] * scale[i] * scale[j];
      a[i * k + i] += o.lambda * scale[i] * scale[i];
      rhs[i] = g[i * m + k] * scale[i];
    }
    std::vector<double> l = a;
    if (Cholesky(l, k)) {
      fit.condition = ConditionOne(a, l, k);
      if (std::isfinite(fit.condition) && fit.condition <= o.max_condition) {
        CholeskySolve(l, k, rhs);
        beta.resize(k);
        for (size_t j = 0; j < k; ++j) beta[j] = rhs[j] * scale[j];
        fit.solver = "cholesky";
      } else {
        use_qr = true;
      }
    } else {
      fit.condition = INFINITY;
      use_qr = true;
    }
  }
  if (use_qr) {
    CLOISTER_ASSIGN_OR_RETURN(beta, SolveQr(p, o, mean, col_norm, threads));
    fit.solver = "qr";
  }

  fit.coefficients = beta;
  fit.intercept = 0;
  if (o.intercept) {
    fit.intercept = mean[k];
    for (size_t j = 0; j < k; ++j) fit.intercept -= beta[j] * mean[j];
  }
  // Residuals from the data, not from the Gram identity, which cancels
  // catastrophically when the fit is good.
  std::vector<double> rss(threads, 0.0), tss(threads, 0.0);
  ParallelChunks(p.rows, threads, [&](size_t begin, size_t end, int t) {
    double r_acc = 0, t_acc = 0;
    for (size_t r = begin; r < end; ++r) {
      const double* x = &p.xy[r * m];
      double pred = fit.intercept;
      for (size_t j = 0; j < k; ++j) pred += beta[j] * x[j];
      const double e = x[k] - pred, d = x[k] - mean[k];
      r_acc += e * e;
      t_acc += d * d;
    }
    rss[t] = r_acc;
    tss[t] = t_acc;
  });
  double rss_sum = 0, tss_sum = 0;
  for (int t = 0; t < threads; ++t) {
    rss_sum += rss[t];
    tss_sum += tss[t];
  }
  fit.r2 = tss_sum > 0 ? 1.0 - rss_sum / tss_sum : (rss_sum == 0 ? 1.0 : 0.0);
  fit.rmse = std::sqrt(rss_sum / static_cast<double>(p.rows));
  return fit;
}

}  // namespace cloister::functions::builtin
