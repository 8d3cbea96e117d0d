// Tests for the boosting loop and tree growth (trainer.h, tree_builder.h):
// learning, determinism, missing-value directions, parameters and errors.
#include "functions/gbdt/trainer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "functions/gbdt/predictor.h"
#include "functions/gbdt/testing/synthetic_data.h"

namespace cloister::functions::gbdt {
namespace {

GbdtParams Quick(Objective obj) {
  GbdtParams p;
  p.objective = obj;
  p.num_trees = 20;
  p.max_depth = 4;
  return p;
}

double Rmse(const std::vector<double>& a, std::span<const float> y) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - y[i]) * (a[i] - y[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

TEST(TrainerTest, RegressionLossDropsAndMatchesPredictor) {
  auto d = testing::MakeSynthetic(4000, 8, Objective::kRegression, 1);
  auto r = Train(Quick(Objective::kRegression), d.x, d.y, d.names);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->metrics.loss_name, "rmse");
  EXPECT_LT(r->metrics.final_loss, 0.5 * r->metrics.initial_loss);
  EXPECT_EQ(r->model.num_trees(), 20u);
  // The training-time margins (tracked on bins) equal the predictor's (on
  // raw floats): the reported loss is recomputed from predictions exactly.
  std::vector<double> pred(d.x.rows());
  ASSERT_TRUE(Predictor(r->model).PredictMargin(d.x, pred, 2).ok());
  EXPECT_NEAR(Rmse(pred, d.y), r->metrics.final_loss, 1e-9);
}

TEST(TrainerTest, BinaryLearnsAndReportsAccuracy) {
  auto d = testing::MakeSynthetic(4000, 8, Objective::kBinary, 2);
  auto r = Train(Quick(Objective::kBinary), d.x, d.y, d.names);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->metrics.loss_name, "logloss");
  EXPECT_LT(r->metrics.final_loss, r->metrics.initial_loss);
  EXPECT_GT(r->metrics.train_accuracy, 0.8);
}

TEST(TrainerTest, ModelDoesNotDependOnThreadCount) {
  auto d = testing::MakeSynthetic(5000, 9, Objective::kRegression, 3);
  GbdtParams p = Quick(Objective::kRegression);
  p.subsample = 0.7;
  p.colsample = 0.6;
  p.seed = 42;
  p.num_threads = 1;
  auto one = Train(p, d.x, d.y, d.names);
  p.num_threads = 2;
  auto two = Train(p, d.x, d.y, d.names);
  p.num_threads = 3;
  auto three = Train(p, d.x, d.y, d.names);
  ASSERT_TRUE(one.ok() && two.ok() && three.ok());
  EXPECT_EQ(SerializeModel(one->model), SerializeModel(two->model));
  EXPECT_EQ(SerializeModel(one->model), SerializeModel(three->model));
}

TEST(TrainerTest, SeedChangesSubsampledModel) {
  auto d = testing::MakeSynthetic(3000, 8, Objective::kRegression, 4);
  GbdtParams p = Quick(Objective::kRegression);
  p.subsample = 0.5;
  p.colsample = 0.5;
  p.seed = 1;
  auto a = Train(p, d.x, d.y, d.names);
  p.seed = 2;
  auto b = Train(p, d.x, d.y, d.names);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(SerializeModel(a->model), SerializeModel(b->model));
  EXPECT_LT(a->metrics.final_loss, a->metrics.initial_loss);
}

TEST(TrainerTest, LearnsDefaultDirectionForMissingValues) {
  // y = 5 when x is missing, 5 when x >= 0 and -5 when x < 0: missing rows
  // must join the right-hand (x >= 0) side.
  DenseMatrix x(300, 1);
  std::vector<float> y(300);
  for (size_t r = 0; r < 300; ++r) {
    if (r % 3 == 0) {
      x.at(r, 0) = std::nanf("");
      y[r] = 5;
    } else {
      x.at(r, 0) = static_cast<float>(r % 2 ? r : -static_cast<float>(r));
      y[r] = x.at(r, 0) >= 0 ? 5.0f : -5.0f;
    }
  }
  GbdtParams p;
  p.num_trees = 1;
  p.max_depth = 1;
  p.learning_rate = 1.0;
  p.lambda = 0;
  auto r = Train(p, x, y, {"x"});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const auto tree = r->model.tree(0);
  ASSERT_EQ(tree.size(), 3u);
  EXPECT_FALSE(tree[0].default_left());
  EXPECT_EQ(tree[0].threshold, 1.0f);  // smallest non-negative value seen
  EXPECT_NEAR(r->metrics.final_loss, 0.0, 1e-5);

  // Mirror: missing behaves like the negative side.
  for (size_t i = 0; i < 300; i += 3) y[i] = -5;
  r = Train(p, x, y, {"x"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->model.tree(0)[0].default_left());
  EXPECT_NEAR(r->metrics.final_loss, 0.0, 1e-5);
}

TEST(TrainerTest, MinSamplesLeafAndDepthAreHonoured) {
  auto d = testing::MakeSynthetic(2000, 6, Objective::kRegression, 5);
  GbdtParams p = Quick(Objective::kRegression);
  p.num_trees = 3;
  p.max_depth = 5;
  p.min_samples_leaf = 150;
  auto r = Train(p, d.x, d.y, d.names);
  ASSERT_TRUE(r.ok());
  // Count rows per leaf with the reference walk.
  for (size_t t = 0; t < r->model.num_trees(); ++t) {
    const auto tree = r->model.tree(t);
    std::vector<int> hits(tree.size(), 0);
    std::vector<int> depth(tree.size(), 0);
    for (size_t row = 0; row < d.x.rows(); ++row) {
      uint32_t i = 0;
      while (!tree[i].is_leaf()) {
        const float v = d.x.at(row, tree[i].feature_id());
        const bool left = std::isnan(v) ? tree[i].default_left() : v < tree[i].threshold;
        const uint32_t next = left ? tree[i].left : tree[i].left + 1;
        depth[next] = depth[i] + 1;
        i = next;
      }
      ++hits[i];
    }
    for (size_t i = 0; i < tree.size(); ++i) {
      if (!tree[i].is_leaf()) continue;
      EXPECT_GE(hits[i], 150) << "tree " << t << " leaf " << i;
      EXPECT_LE(depth[i], 5);
    }
  }
}

TEST(TrainerTest, RejectsBadInputs) {
  auto d = testing::MakeSynthetic(100, 6, Objective::kBinary, 6);
  GbdtParams p = Quick(Objective::kBinary);
  EXPECT_EQ(Train(p, DenseMatrix(0, 6), {}, d.names).code(), Code::kInvalidArgument);

  std::vector<float> y = d.y;
  y[10] = 2;
  auto r = Train(p, d.x, y, d.names);
  ASSERT_EQ(r.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().reason(), "GBDT_BAD_LABEL");
  EXPECT_NE(r.error().message().find("row 11"), std::string::npos);
  y[10] = std::nanf("");
  EXPECT_EQ(Train(p, d.x, y, d.names).code(), Code::kInvalidArgument);

  auto names = d.names;
  names[1] = names[0];
  EXPECT_EQ(Train(p, d.x, d.y, names).code(), Code::kInvalidArgument);
  EXPECT_EQ(Train(p, d.x, std::span(d.y).first(50), d.names).code(), Code::kInvalidArgument);

  for (auto mutate : std::initializer_list<void (*)(GbdtParams&)>{
           [](GbdtParams& q) { q.max_depth = 0; }, [](GbdtParams& q) { q.max_depth = 17; },
           [](GbdtParams& q) { q.num_trees = 0; }, [](GbdtParams& q) { q.learning_rate = 0; },
           [](GbdtParams& q) { q.learning_rate = NAN; }, [](GbdtParams& q) { q.subsample = 0; },
           [](GbdtParams& q) { q.colsample = 1.5; }, [](GbdtParams& q) { q.lambda = -1; },
           [](GbdtParams& q) { q.max_bins = 1; }, [](GbdtParams& q) { q.max_bins = 257; },
           [](GbdtParams& q) { q.min_samples_leaf = 0; },
           [](GbdtParams& q) { q.min_child_weight = -1; }}) {
    GbdtParams q = p;
    mutate(q);
    auto bad = Train(q, d.x, d.y, d.names);
    EXPECT_EQ(bad.code(), Code::kInvalidArgument);
    EXPECT_EQ(bad.error().reason(), "GBDT_BAD_PARAM");
  }
}

TEST(TrainerTest, RefusesHistogramMemoryBlowUp) {
  // 300 features × 256 bins, up to 4000 nodes per level at depth 16: ~7 GiB
  // of histograms, refused before any is allocated.
  GbdtParams p;
  p.max_depth = 16;
  p.num_trees = 1;
  DenseMatrix wide(4000, 300);
  for (size_t r = 0; r < wide.rows(); ++r)
    for (size_t c = 0; c < wide.cols(); ++c) wide.at(r, c) = static_cast<float>((r * 7 + c) % 1000);
  std::vector<std::string> names;
  for (size_t c = 0; c < 300; ++c) names.push_back("c" + std::to_string(c));
  std::vector<float> y(4000, 1.0f);
  auto r = Train(p, wide, y, names);
  ASSERT_EQ(r.code(), Code::kResourceExhausted) << (r.ok() ? "" : r.error().ToString());
}

TEST(TrainerTest, ConstantFeaturesGiveSingleLeafTrees) {
  DenseMatrix x(50, 2);  // all zero
  std::vector<float> y(50);
  for (size_t i = 0; i < 50; ++i) y[i] = static_cast<float>(i % 2);
  GbdtParams p = Quick(Objective::kBinary);
  auto r = Train(p, x, y, {"a", "b"});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->model.nodes.size(), r->model.num_trees());
}

}  // namespace
}  // namespace cloister::functions::gbdt
