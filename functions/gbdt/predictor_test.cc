// Tests for batch prediction (predictor.h) against a hand-walked tree.
#include "functions/gbdt/predictor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <random>

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

// A random valid model: trees grown breadth-first (children after their
// parent, as the format requires) with random splits, default directions
// and early leaves; thresholds on a coarse grid so inputs hit them exactly.
Model RandomModel(std::mt19937& rng, size_t features, int trees, uint32_t max_depth) {
  Model m;
  m.objective = Objective::kRegression;
  m.base_score = std::uniform_real_distribution<double>(-2, 2)(rng);
  for (size_t f = 0; f < features; ++f) m.feature_names.push_back("f" + std::to_string(f));
  std::uniform_int_distribution<uint32_t> feature(0, static_cast<uint32_t>(features) - 1);
  std::uniform_int_distribution<int> grid(-8, 8);
  std::uniform_real_distribution<float> unit(0, 1);
  for (int t = 0; t < trees; ++t) {
    // Tree 0 sets the model's depth; the others are anywhere up to it.
    const uint32_t depth =
        t == 0 ? max_depth : std::uniform_int_distribution<uint32_t>(0, max_depth)(rng);
    const float leaf_chance = unit(rng) * 0.4f;
    const uint32_t base = static_cast<uint32_t>(m.nodes.size());
    // Per tree-local node: its depth, and whether it is on the leftmost path,
    // which always reaches `depth` so the model really is that deep (deep
    // ones must take the pointer-walk fallback).
    std::vector<uint32_t> node_depth = {0};
    std::vector<bool> spine = {true};
    m.nodes.push_back({});
    for (uint32_t i = 0; i < node_depth.size(); ++i) {
      const uint32_t d = node_depth[i];
      if (d == depth || (!spine[i] && unit(rng) < leaf_chance)) {
        m.nodes[base + i] = {0, 0, 0.0f, std::uniform_real_distribution<float>(-1, 1)(rng)};
        continue;
      }
      const uint32_t left = static_cast<uint32_t>(node_depth.size());
      m.nodes[base + i] = {left, feature(rng) | (unit(rng) < 0.5f ? Node::kDefaultLeft : 0),
                           static_cast<float>(grid(rng)) * 0.25f, 0.0f};
      m.nodes.push_back({});
      m.nodes.push_back({});
      node_depth.insert(node_depth.end(), {d + 1, d + 1});
      spine.push_back(spine[i]);
      spine.push_back(false);
    }
    m.tree_offsets.push_back(static_cast<uint32_t>(m.nodes.size()));
  }
  return m;
}

DenseMatrix RandomRows(std::mt19937& rng, size_t rows, size_t features) {
  DenseMatrix x(rows, features);
  std::uniform_int_distribution<int> grid(-9, 9);
  std::uniform_real_distribution<float> unit(0, 1);
  std::normal_distribution<float> normal(0, 1.5f);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < features; ++c) {
      const float u = unit(rng);
      x.at(r, c) = u < 0.15f  ? std::nanf("")
                   : u < 0.5f ? static_cast<float>(grid(rng)) * 0.25f  // ties with thresholds
                              : normal(rng);
    }
  return x;
}

bool CpuHasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

// Every path, forced with max_path, gives bit-identical margins to the
// scalar walk (and to the reference walk) on random models and inputs:
// NaNs, ties, every depth the SIMD layout handles (each level and leaf kind
// of the AVX-512 kernel) and deeper models that fall back to the pointer
// walk; row counts that leave 8- and 16-row tails.
TEST(PredictorTest, AllPathsAreBitIdenticalToScalar) {
  using Path = Predictor::Path;
  std::mt19937 rng(20261203);
  if (!CpuHasAvx512()) std::printf("note: no AVX-512 on this CPU, that path is not exercised\n");
  for (int trial = 0; trial < 60; ++trial) {
    const size_t features = std::uniform_int_distribution<size_t>(1, 40)(rng);
    const uint32_t max_depth = trial < 50 ? static_cast<uint32_t>(trial % 11) : 11 + trial % 4;
    const int trees = std::uniform_int_distribution<int>(1, 25)(rng);
    const Model m = RandomModel(rng, features, trees, max_depth);
    ASSERT_TRUE(ValidateModel(m).ok()) << ValidateModel(m).ToString();
    const size_t rows = std::uniform_int_distribution<size_t>(1, 700)(rng);
    const DenseMatrix x = RandomRows(rng, rows, features);
    const bool deep = max_depth > 10;  // beyond the SIMD layout

    std::vector<double> scalar(rows);
    const Predictor ps(m, Path::kScalar);
    ASSERT_EQ(ps.path(), Path::kScalar);
    ASSERT_TRUE(ps.PredictMargin(x, scalar, 1).ok());
    for (size_t r = 0; r < rows; ++r)
      ASSERT_EQ(scalar[r], ReferenceMargin(m, x.row(r))) << "trial " << trial << " row " << r;
    for (Path path : {Path::kAvx2, Path::kAvx512}) {
      const Predictor p(m, path);
      if (deep) {
        EXPECT_EQ(p.path(), Path::kScalar) << "trial " << trial;
      } else if (path == Path::kAvx512 && CpuHasAvx512()) {
        EXPECT_EQ(p.path(), Path::kAvx512);
      } else if (__builtin_cpu_supports("avx2")) {
        EXPECT_EQ(p.path(), Path::kAvx2);
      }
      std::vector<double> out(rows);
      ASSERT_TRUE(p.PredictMargin(x, out, 2).ok());
      for (size_t r = 0; r < rows; ++r)
        ASSERT_EQ(std::bit_cast<uint64_t>(out[r]), std::bit_cast<uint64_t>(scalar[r]))
            << Predictor::PathName(p.path()) << " trial " << trial << " row " << r << " depth "
            << max_depth << (deep ? " (fallback)" : "");
    }
  }
}

// Many tasks on two threads, with the paths forced: the same margins.
TEST(PredictorTest, AllPathsAgreeOnLargeInputs) {
  using Path = Predictor::Path;
  std::mt19937 rng(7);
  const Model m = RandomModel(rng, 20, 100, 6);
  const DenseMatrix x = RandomRows(rng, 20'011, 20);
  std::vector<double> want(x.rows());
  ASSERT_TRUE(Predictor(m, Path::kScalar).PredictMargin(x, want, 1).ok());
  for (Path path : {Path::kAvx2, Path::kAvx512}) {
    std::vector<double> out(x.rows());
    ASSERT_TRUE(Predictor(m, path).PredictMargin(x, out, 2).ok());
    EXPECT_EQ(out, want) << Predictor::PathName(path);
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
