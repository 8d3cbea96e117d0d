// Tests for linreg_train / linreg_predict and the least-squares core against
// LAPACK's reference least-squares solver (LAPACKE_dgels).
#include "functions/builtin/linreg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "functions/builtin/csv.h"
#include "functions/builtin/least_squares.h"
#include "functions/builtin/linreg_model.h"

#ifdef CLOISTER_HAVE_LAPACKE
#include <lapacke.h>
#endif

namespace cloister::functions::builtin {
namespace {

using ::testing::HasSubstr;

struct Data {
  size_t rows, cols;
  std::vector<double> xy;  // rows × (cols + 1), label last
  std::vector<std::string> names;
};

// y = 3 + Σ (j+1)·x_j + noise, columns on different scales.
Data MakeData(size_t rows, size_t cols, uint64_t seed, double collinear_eps = -1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Data d{rows, cols, std::vector<double>(rows * (cols + 1)), {}};
  for (size_t j = 0; j < cols; ++j) d.names.push_back("x" + std::to_string(j + 1));
  for (size_t r = 0; r < rows; ++r) {
    double y = 3;
    for (size_t j = 0; j < cols; ++j) {
      double v = n01(rng) * std::pow(10.0, static_cast<double>(j % 3)) + 0.5 * j;
      if (collinear_eps >= 0 && j == cols - 1)
        v = d.xy[r * (cols + 1)] + d.xy[r * (cols + 1) + 1] + collinear_eps * n01(rng);
      d.xy[r * (cols + 1) + j] = v;
      y += static_cast<double>(j + 1) * v;
    }
    d.xy[r * (cols + 1) + cols] = y + 0.1 * n01(rng);
  }
  return d;
}

std::string ToCsv(const Data& d) {
  CsvWriter w;
  for (const auto& n : d.names) w.Field(n);
  w.Field("y");
  w.EndRow();
  for (size_t r = 0; r < d.rows; ++r) {
    for (size_t j = 0; j <= d.cols; ++j) w.Number(d.xy[r * (d.cols + 1) + j]);
    w.EndRow();
  }
  return std::move(w).Take();
}

#ifdef CLOISTER_HAVE_LAPACKE
// Reference: [intercept, β...] (or β... without intercept) from dgels on
// [1 | X] (+ √λ·I rows for ridge on centred data).
std::vector<double> Reference(const Data& d, bool intercept, double lambda = 0) {
  const size_t k = d.cols;
  if (lambda > 0) {
    // Ridge with an unpenalised intercept = ridge on centred data.
    std::vector<double> mean(k + 1, 0.0);
    for (size_t r = 0; r < d.rows; ++r)
      for (size_t j = 0; j <= k; ++j) mean[j] += d.xy[r * (k + 1) + j] / d.rows;
    const size_t rows = d.rows + k;
    std::vector<double> a(rows * k, 0.0), b(rows, 0.0);
    for (size_t r = 0; r < d.rows; ++r) {
      for (size_t j = 0; j < k; ++j) a[r * k + j] = d.xy[r * (k + 1) + j] - mean[j];
      b[r] = d.xy[r * (k + 1) + k] - mean[k];
    }
    for (size_t j = 0; j < k; ++j) a[(d.rows + j) * k + j] = std::sqrt(lambda);
    EXPECT_EQ(LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', rows, k, 1, a.data(), k, b.data(), 1), 0);
    std::vector<double> out = {mean[k]};
    for (size_t j = 0; j < k; ++j) {
      out.push_back(b[j]);
      out[0] -= b[j] * mean[j];
    }
    return out;
  }
  const size_t c = k + (intercept ? 1 : 0);
  std::vector<double> a(d.rows * c), b(d.rows);
  for (size_t r = 0; r < d.rows; ++r) {
    size_t col = 0;
    if (intercept) a[r * c + col++] = 1;
    for (size_t j = 0; j < k; ++j) a[r * c + col++] = d.xy[r * (k + 1) + j];
    b[r] = d.xy[r * (k + 1) + k];
  }
  EXPECT_EQ(LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', d.rows, c, 1, a.data(), c, b.data(), 1), 0);
  std::vector<double> out(b.begin(), b.begin() + c);
  if (!intercept) out.insert(out.begin(), 0.0);
  return out;
}

void ExpectClose(const LeastSquaresFit& fit, const std::vector<double>& ref, double rel) {
  ASSERT_EQ(fit.coefficients.size() + 1, ref.size());
  EXPECT_NEAR(fit.intercept, ref[0], rel * std::max(1.0, std::fabs(ref[0])));
  for (size_t j = 0; j < fit.coefficients.size(); ++j)
    EXPECT_NEAR(fit.coefficients[j], ref[j + 1], rel * std::fabs(ref[j + 1])) << "β" << j;
}

LeastSquaresProblem Problem(const Data& d) {
  LeastSquaresProblem p;
  p.xy = d.xy;
  p.rows = d.rows;
  p.cols = d.cols;
  p.names = d.names;
  return p;
}

TEST(LeastSquaresTest, MatchesDgelsOnWellConditionedData) {
  for (bool intercept : {true, false}) {
    const Data d = MakeData(2000, 8, 7);
    LeastSquaresOptions o;
    o.intercept = intercept;
    auto fit = SolveLeastSquares(Problem(d), o);
    ASSERT_TRUE(fit.ok()) << fit.error().ToString();
    EXPECT_EQ(fit->solver, "cholesky");
    ExpectClose(*fit, Reference(d, intercept), 1e-8);
    EXPECT_GT(fit->r2, 0.99);
  }
}

TEST(LeastSquaresTest, SortedDataWithLargeOffsetsStaysAccurate) {
  // Sorted by the label with a large offset: the one-pass shifted Gram
  // would cancel badly, so the exact two-pass centring must kick in.
  Data d = MakeData(20000, 5, 13);  // first 1024 rows: bottom 5%, ~2σ off
  const size_t w = d.cols + 1;
  std::vector<std::vector<double>> rows(d.rows);
  for (size_t r = 0; r < d.rows; ++r) {
    rows[r].assign(d.xy.begin() + r * w, d.xy.begin() + (r + 1) * w);
    rows[r][0] += 1e6;
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a[0] < b[0]; });
  for (size_t r = 0; r < d.rows; ++r) std::copy(rows[r].begin(), rows[r].end(), d.xy.begin() + r * w);
  auto fit = SolveLeastSquares(Problem(d), {});
  ASSERT_TRUE(fit.ok()) << fit.error().ToString();
  ExpectClose(*fit, Reference(d, true), 1e-8);
}

TEST(LeastSquaresTest, QrPathAndThreadCountsAgree) {
  const Data d = MakeData(5000, 6, 11);
  const auto ref = Reference(d, true);
  for (bool qr : {false, true}) {
    for (int threads : {1, 2, 3}) {
      LeastSquaresOptions o;
      o.force_qr = qr;
      o.threads = threads;
      auto fit = SolveLeastSquares(Problem(d), o);
      ASSERT_TRUE(fit.ok()) << fit.error().ToString();
      EXPECT_EQ(fit->solver, qr ? "qr" : "cholesky");
      ExpectClose(*fit, ref, 1e-9);
    }
  }
}

TEST(LeastSquaresTest, RidgeMatchesAugmentedDgels) {
  const Data d = MakeData(1000, 5, 3);
  for (bool qr : {false, true}) {
    LeastSquaresOptions o;
    o.lambda = 250.0;
    o.force_qr = qr;
    auto fit = SolveLeastSquares(Problem(d), o);
    ASSERT_TRUE(fit.ok());
    ExpectClose(*fit, Reference(d, true, 250.0), 1e-8);
  }
}

TEST(LeastSquaresTest, IllConditionedDataFallsBackToQr) {
  // x4 = x1 + x2 + 1e-6·noise: κ(XᵀX) ~ 1e12, far past the Cholesky limit.
  const Data d = MakeData(3000, 4, 5, 1e-6);
  auto fit = SolveLeastSquares(Problem(d), {});
  ASSERT_TRUE(fit.ok()) << fit.error().ToString();
  EXPECT_EQ(fit->solver, "qr");
  EXPECT_GT(fit->condition, 1e6);
  // dgels is itself only accurate to ~κ(X)·ε here.
  ExpectClose(*fit, Reference(d, true), 1e-6);
}
#endif  // CLOISTER_HAVE_LAPACKE

TEST(LeastSquaresTest, NamesCollinearAndConstantColumns) {
  Data d = MakeData(200, 4, 9, 0.0);  // x4 = x1 + x2 exactly
  LeastSquaresProblem p;
  p.xy = d.xy;
  p.rows = d.rows;
  p.cols = d.cols;
  p.names = d.names;
  auto fit = SolveLeastSquares(p, {});
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.error().reason(), "LINREG_COLLINEAR");
  EXPECT_THAT(fit.error().message(), HasSubstr("'x4' is collinear with 'x1', 'x2'"));
  LeastSquaresOptions ridge;
  ridge.lambda = 1e-3;
  EXPECT_TRUE(SolveLeastSquares(p, ridge).ok());

  for (size_t r = 0; r < d.rows; ++r) d.xy[r * 5 + 2] = 7.25;  // x3 constant
  fit = SolveLeastSquares(p, {});
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.error().reason(), "LINREG_CONSTANT_COLUMN");
  EXPECT_THAT(fit.error().message(), HasSubstr("'x3' is constant"));
  EXPECT_TRUE(SolveLeastSquares(p, ridge).ok());
}

TEST(LeastSquaresTest, RejectsTooFewRows) {
  const Data d = MakeData(3, 4, 1);
  LeastSquaresProblem p;
  p.xy = d.xy;
  p.rows = d.rows;
  p.cols = d.cols;
  EXPECT_EQ(SolveLeastSquares(p, {}).error().reason(), "LINREG_TOO_FEW_ROWS");
}

TEST(LinregFunctionTest, TrainThenPredictRoundTripsThroughCsvAndJson) {
  const Data d = MakeData(300, 3, 21);
  auto train = Invoke(*MakeLinregTrain(), {{"label", "y"}}, {{"data", ToCsv(d)}});
  ASSERT_TRUE(train.ok()) << train.error().ToString();
  auto model = ParseLinregModel(train->at("model"));
  ASSERT_TRUE(model.ok()) << model.error().ToString();
  EXPECT_EQ(model->features, (std::vector<std::string>{"x1", "x2", "x3"}));
  auto metrics = nlohmann::json::parse(train->at("metrics"));
  EXPECT_EQ(metrics["rows"], 300);
  EXPECT_GT(metrics["r2"].get<double>(), 0.99);
#ifdef CLOISTER_HAVE_LAPACKE
  const auto ref = Reference(d, true);
  EXPECT_NEAR(model->intercept, ref[0], 1e-8 * std::fabs(ref[0]));
  for (size_t j = 0; j < 3; ++j)
    EXPECT_NEAR(model->coefficients[j], ref[j + 1], 1e-8 * std::fabs(ref[j + 1]));
#endif
  // Predict on data with extra columns in another order.
  const std::string rows = "x3,id,x1,x2\n1,a,2,3\n0,b,0,0\n";
  auto pred = Invoke(*MakeLinregPredict(), {},
                     {{"model", train->at("model")}, {"data", rows}});
  ASSERT_TRUE(pred.ok()) << pred.error().ToString();
  auto t = CsvTable::Parse(pred->at("predictions"));
  ASSERT_TRUE(t.ok());
  auto v = t->Doubles("prediction", MissingPolicy::kError);
  ASSERT_TRUE(v.ok());
  const auto& c = model->coefficients;
  EXPECT_DOUBLE_EQ((*v)[0], model->intercept + c[0] * 2 + c[1] * 3 + c[2] * 1);
  EXPECT_DOUBLE_EQ((*v)[1], model->intercept);
}

TEST(LinregFunctionTest, FeatureSelectionMissingPolicyAndErrors) {
  const std::string csv = "a,b,c,y\n1,2,9,3\n2,1,9,4\n3,5,,9\n4,4,9,9\n5,7,9,13\n";
  auto fit = Invoke(*MakeLinregTrain(), {{"label", "y"}, {"features", "a, b"}},
                    {{"data", csv}});
  ASSERT_TRUE(fit.ok()) << fit.error().ToString();
  // Column c (with its gap) is not used, so no missing-value error.
  auto all = Invoke(*MakeLinregTrain(), {{"label", "y"}}, {{"data", csv}});
  ASSERT_FALSE(all.ok());
  EXPECT_THAT(all.error().message(), HasSubstr("line 4, column 3 ('c'): missing value"));
  auto skip = Invoke(*MakeLinregTrain(), {{"label", "y"}, {"missing", "skip"}}, {{"data", csv}});
  ASSERT_FALSE(skip.ok());  // c is constant once the gap row is skipped
  EXPECT_THAT(skip.error().message(), HasSubstr("'c' is constant"));
  EXPECT_THAT(Invoke(*MakeLinregTrain(), {{"label", "zz"}}, {{"data", csv}}).error().message(),
              HasSubstr("no column 'zz'"));
  EXPECT_EQ(Invoke(*MakeLinregTrain(), {{"label", "y"}, {"features", "a,a"}}, {{"data", csv}})
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Invoke(*MakeLinregTrain(), {{"label", "y"}, {"features", "a,y"}}, {{"data", csv}})
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Invoke(*MakeLinregTrain(), {{"label", "y"}, {"lambda", "-1"}}, {{"data", csv}})
                .code(),
            Code::kInvalidArgument);
}

TEST(LinregModelTest, RejectsMalformedModels) {
  const std::vector<std::string> bad = {
      "",
      "[]",
      R"({"format":"other","label":"y","features":["a"],"coefficients":[1],"intercept":0})",
      R"({"format":"cloister.linreg.v1","label":"y","features":["a"],"coefficients":[],"intercept":0})",
      R"({"format":"cloister.linreg.v1","label":"y","features":["a","a"],"coefficients":[1,2],"intercept":0})",
      R"({"format":"cloister.linreg.v1","label":"y","features":["a"],"coefficients":["1"],"intercept":0})",
      R"({"format":"cloister.linreg.v1","label":"y","features":["a"],"coefficients":[1]})",
      R"({"format":"cloister.linreg.v1","label":"y","features":["a"],"coefficients":[1],"intercept":0,"x":1})",
      R"({"format":"cloister.linreg.v1","label":"y","features":[""],"coefficients":[1],"intercept":0})",
  };
  for (const auto& text : bad) {
    auto m = ParseLinregModel(text);
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.error().reason(), "LINREG_BAD_MODEL") << text;
  }
  LinregModel m{"y", {"a", "b"}, {0.1, -1e-300}, 1.0 / 3, false, 2};
  auto back = ParseLinregModel(SerializeLinregModel(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->coefficients, m.coefficients);
  EXPECT_EQ(back->intercept, m.intercept);
  EXPECT_FALSE(back->fit_intercept);
}

}  // namespace
}  // namespace cloister::functions::builtin
