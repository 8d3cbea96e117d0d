// Tests for batch prediction (predictor.h) against a hand-walked tree.
#include "functions/gbdt/predictor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "functions/gbdt/testing/synthetic_data.h"
#include "functions/gbdt/trainer.h"

namespace cloister::functions::gbdt {
namespace {

// Reference: walk each tree node by node from the serialisable model.
double ReferenceMargin(const Model& m, std::span<const float> row) {
  double sum = m.base_score;
  for (size_t t = 0; t < m.num_trees(); ++t) {
    const auto tree = m.tree(t);
    uint32_t i = 0;
    while (!tree[i].is_leaf()) {
      const float v = row[tree[i].feature_id()];
      const bool left = std::isnan(v) ? tree[i].default_left() : v < tree[i].threshold;
      i = left ? tree[i].left : tree[i].left + 1;
    }
    sum += tree[i].value;
  }
  return sum;
}

Model TwoTrees() {
  Model m;
  m.objective = Objective::kRegression;
  m.base_score = 0.5;
  m.feature_names = {"a", "b"};
  // Tree 0: a < 1 (missing right) ? 10 : (b < 0 (missing left) ? 20 : 30)
  // Tree 1: a single leaf 0.25.
  m.nodes = {{1, 0, 1.0f, 0},          {0, 0, 0, 10.0f}, {3, 1 | Node::kDefaultLeft, 0.0f, 0},
             {0, 0, 0, 20.0f},         {0, 0, 0, 30.0f}, {0, 0, 0, 0.25f}};
  m.tree_offsets = {0, 5, 6};
  return m;
}

TEST(PredictorTest, FollowsThresholdsAndDefaultDirections) {
  const Model m = TwoTrees();
  ASSERT_TRUE(ValidateModel(m).ok());
  DenseMatrix x(5, 2);
  const float nan = std::nanf("");
  const float rows[5][2] = {{0, 0}, {1, -1}, {1, 0}, {nan, nan}, {5, nan}};
  for (size_t r = 0; r < 5; ++r)
    for (size_t c = 0; c < 2; ++c) x.at(r, c) = rows[r][c];
  std::vector<double> out(5);
  ASSERT_TRUE(Predictor(m).PredictMargin(x, out, 1).ok());
  EXPECT_EQ(out, (std::vector<double>{10.75, 20.75, 30.75, 20.75, 20.75}));
}

TEST(PredictorTest, MatchesReferenceWalkOnAnyThreadCount) {
  // A random forest of valid trees: train a quick model on synthetic data.
  auto d = testing::MakeSynthetic(10'000, 7, Objective::kRegression, 5, 0.2);
  Model m = TwoTrees();
  m.feature_names = d.names;
  // Reuse the shape but vary thresholds per tree so every path is exercised.
  m.nodes.clear();
  m.tree_offsets = {0};
  for (int t = 0; t < 30; ++t) {
    const float th = static_cast<float>(t % 7) * 0.5f - 1.5f;
    const uint32_t f = static_cast<uint32_t>(t % 7);
    m.nodes.push_back({1, f | (t % 2 ? Node::kDefaultLeft : 0), th, 0});
    m.nodes.push_back({3, (f + 1) % 7, -th, 0});
    m.nodes.push_back({0, 0, 0, static_cast<float>(t)});
    m.nodes.push_back({0, 0, 0, -1.0f});
    m.nodes.push_back({0, 0, 0, 2.0f});
    m.tree_offsets.push_back(static_cast<uint32_t>(m.nodes.size()));
  }
  ASSERT_TRUE(ValidateModel(m).ok()) << ValidateModel(m).ToString();
  const Predictor p(m);
  std::vector<double> one(d.x.rows()), two(d.x.rows());
  ASSERT_TRUE(p.PredictMargin(d.x, one, 1).ok());
  ASSERT_TRUE(p.PredictMargin(d.x, two, 2).ok());
  EXPECT_EQ(one, two);
  for (size_t r = 0; r < d.x.rows(); ++r)
    ASSERT_DOUBLE_EQ(one[r], ReferenceMargin(m, d.x.row(r))) << "row " << r;
}

// Trained models exercise every level kind of the SIMD walk (permute levels
// 0-3, gather levels below) at depth 6, and the pointer-walk fallback at
// depth 12; an odd row count exercises the scalar tail.
TEST(PredictorTest, TrainedModelsMatchReferenceWalk) {
  auto d = testing::MakeSynthetic(3001, 8, Objective::kRegression, 8, 0.15);
  for (int depth : {6, 12}) {
    GbdtParams p;
    p.num_trees = 8;
    p.max_depth = depth;
    auto r = Train(p, d.x, d.y, d.names);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    std::vector<double> out(d.x.rows());
    ASSERT_TRUE(Predictor(r->model).PredictMargin(d.x, out, 2).ok());
    for (size_t row = 0; row < d.x.rows(); ++row)
      ASSERT_EQ(out[row], ReferenceMargin(r->model, d.x.row(row))) << "depth " << depth;
  }
}

TEST(PredictorTest, BinaryGivesProbabilities) {
  Model m = TwoTrees();
  m.objective = Objective::kBinary;
  DenseMatrix x(1, 2);
  std::vector<double> out(1);
  ASSERT_TRUE(Predictor(m).Predict(x, out, 1).ok());
  EXPECT_DOUBLE_EQ(out[0], 1.0 / (1.0 + std::exp(-10.75)));
}

TEST(PredictorTest, RejectsShapeMismatch) {
  const Predictor p(TwoTrees());
  DenseMatrix x(3, 3);
  std::vector<double> out(3);
  EXPECT_EQ(p.PredictMargin(x, out, 1).code(), Code::kInvalidArgument);
  DenseMatrix y(3, 2);
  std::vector<double> small(2);
  EXPECT_EQ(p.PredictMargin(y, small, 1).code(), Code::kInvalidArgument);
  DenseMatrix empty(0, 2);
  EXPECT_TRUE(p.PredictMargin(empty, std::span<double>(), 2).ok());
}

}  // namespace
}  // namespace cloister::functions::gbdt
