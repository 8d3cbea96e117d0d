// Accuracy parity with XGBoost (hist, depthwise): same synthetic data, same
// trees/depth/learning rate, evaluated on a held-out set. Only built when
// libxgboost is available and the build is not sanitized.
#include <gtest/gtest.h>

#include <cmath>

#include "functions/gbdt/predictor.h"
#include "functions/gbdt/testing/synthetic_data.h"
#include "functions/gbdt/testing/xgboost_ref.h"
#include "functions/gbdt/trainer.h"

namespace cloister::functions::gbdt {
namespace {

constexpr size_t kTrainRows = 20'000, kTestRows = 10'000, kFeatures = 10;
constexpr int kTrees = 50, kDepth = 6;
constexpr double kEta = 0.3;

struct Scores {
  double ours;
  double xgb;
};

template <typename Metric>
Scores TrainBoth(Objective obj, const char* xgb_objective, Metric metric) {
  const auto train = testing::MakeSynthetic(kTrainRows, kFeatures, obj, /*seed=*/100);
  const auto test = testing::MakeSynthetic(kTestRows, kFeatures, obj, /*seed=*/200);

  GbdtParams p;
  p.objective = obj;
  p.num_trees = kTrees;
  p.max_depth = kDepth;
  p.learning_rate = kEta;
  p.num_threads = 2;
  auto ours = Train(p, train.x, train.y, train.names);
  EXPECT_TRUE(ours.ok()) << ours.error().ToString();
  std::vector<double> pred(kTestRows);
  EXPECT_TRUE(Predictor(ours->model).Predict(test.x, pred, 2).ok());

  auto dtrain = testing::XgbMatrix::Create(train.x, train.y);
  auto dtest = testing::XgbMatrix::Create(test.x);
  EXPECT_TRUE(dtrain.ok() && dtest.ok());
  auto booster = testing::XgbBooster::Create(
      *dtrain, {{"tree_method", "hist"}, {"max_depth", std::to_string(kDepth)},
                {"eta", std::to_string(kEta)}, {"nthread", "2"}, {"objective", xgb_objective},
                {"verbosity", "0"}, {"seed", "0"}});
  EXPECT_TRUE(booster.ok());
  EXPECT_TRUE(booster->Train(*dtrain, kTrees).ok());
  auto xp = booster->Predict(*dtest);
  EXPECT_TRUE(xp.ok());
  const std::vector<double> xpred(xp->begin(), xp->end());
  return {metric(pred, test.y), metric(xpred, test.y)};
}

TEST(XgboostCompareTest, RegressionRmseWithinTwoPercent) {
  const Scores s = TrainBoth(Objective::kRegression, "reg:squarederror",
                             [](const std::vector<double>& p, const std::vector<float>& y) {
                               double sum = 0;
                               for (size_t i = 0; i < p.size(); ++i)
                                 sum += (p[i] - y[i]) * (p[i] - y[i]);
                               return std::sqrt(sum / static_cast<double>(p.size()));
                             });
  RecordProperty("ours_rmse", std::to_string(s.ours));
  RecordProperty("xgboost_rmse", std::to_string(s.xgb));
  std::printf("held-out RMSE: ours %.5f, xgboost %.5f\n", s.ours, s.xgb);
  EXPECT_LE(s.ours, s.xgb * 1.02);
}

TEST(XgboostCompareTest, BinaryAccuracyWithinHalfAPoint) {
  const Scores s = TrainBoth(Objective::kBinary, "binary:logistic",
                             [](const std::vector<double>& p, const std::vector<float>& y) {
                               size_t correct = 0;
                               for (size_t i = 0; i < p.size(); ++i)
                                 correct += (p[i] >= 0.5) == (y[i] == 1.0f);
                               return static_cast<double>(correct) / static_cast<double>(p.size());
                             });
  std::printf("held-out accuracy: ours %.4f, xgboost %.4f\n", s.ours, s.xgb);
  EXPECT_GE(s.ours, s.xgb - 0.005);
}

}  // namespace
}  // namespace cloister::functions::gbdt
