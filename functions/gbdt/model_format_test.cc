// Tests for the model format (model.h): exact round-trips, and clean
// rejection of truncated, corrupted and forged models.
#include <gtest/gtest.h>

#include <cstring>

#include "functions/gbdt/model.h"
#include "functions/gbdt/predictor.h"
#include "functions/gbdt/testing/synthetic_data.h"
#include "functions/gbdt/trainer.h"

namespace cloister::functions::gbdt {
namespace {

// x0 < 0.5 ? (x1 < 2 ? -1 : 1) : 3, missing x0 goes left.
Model SmallModel() {
  Model m;
  m.objective = Objective::kRegression;
  m.base_score = 0.25;
  m.feature_names = {"x0", "x1"};
  m.nodes = {{1, 0 | Node::kDefaultLeft, 0.5f, 0}, {3, 1, 2.0f, 0}, {0, 0, 0, 3.0f},
             {0, 0, 0, -1.0f},                     {0, 0, 0, 1.0f}};
  m.tree_offsets = {0, 5};
  return m;
}

// Re-seals forged bytes with a valid checksum so the structural checks run.
std::string Reseal(std::string bytes) {
  bytes.resize(bytes.size() - 8);
  const uint64_t sum = internal::Fnv1a64(bytes);
  char buf[8];
  std::memcpy(buf, &sum, 8);
  bytes.append(buf, 8);
  return bytes;
}

class TrainedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::MakeSynthetic(3000, 8, Objective::kBinary, 11);
    GbdtParams p;
    p.objective = Objective::kBinary;
    p.num_trees = 10;
    p.max_depth = 4;
    auto r = Train(p, data_.x, data_.y, data_.names);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    model_ = std::move(r->model);
  }
  testing::SyntheticData data_;
  Model model_;
};

TEST_F(TrainedModelTest, RoundTripIsByteExactWithIdenticalPredictions) {
  const std::string bytes = SerializeModel(model_);
  auto parsed = ParseModel(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(SerializeModel(*parsed), bytes);
  std::vector<double> a(data_.x.rows()), b(data_.x.rows());
  ASSERT_TRUE(Predictor(model_).Predict(data_.x, a, 1).ok());
  ASSERT_TRUE(Predictor(*parsed).Predict(data_.x, b, 2).ok());
  EXPECT_EQ(a, b);
}

TEST_F(TrainedModelTest, EveryTruncationIsRejected) {
  const std::string bytes = SerializeModel(model_);
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = ParseModel(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(r.ok()) << "length " << len;
    ASSERT_EQ(r.code(), Code::kInvalidArgument);
    ASSERT_EQ(r.error().reason(), "GBDT_BAD_MODEL");
  }
  EXPECT_FALSE(ParseModel(bytes + "x").ok());
}

TEST_F(TrainedModelTest, EveryByteFlipIsRejected) {
  const std::string bytes = SerializeModel(model_);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    ASSERT_FALSE(ParseModel(bad).ok()) << "byte " << i;
  }
}

// With a valid checksum, forged structure must still be caught: every byte
// position set to several values either parses into a valid model or is
// rejected, never crashes (ASan/UBSan enforce the "never crashes").
TEST(ModelFormatTest, ResealedGarbageNeverCrashes) {
  // A small model keeps this exhaustive sweep fast under the sanitizers.
  auto data = testing::MakeSynthetic(300, 6, Objective::kRegression, 12);
  GbdtParams p;
  p.num_trees = 3;
  p.max_depth = 3;
  auto trained = Train(p, data.x, data.y, data.names);
  ASSERT_TRUE(trained.ok());
  const std::string bytes = SerializeModel(trained->model);
  int accepted = 0;
  for (size_t i = 4; i + 8 < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(v);
      auto r = ParseModel(Reseal(bad));
      if (r.ok()) {
        ++accepted;
        ASSERT_TRUE(ValidateModel(*r).ok());
        ASSERT_EQ(SerializeModel(*r), Reseal(bad));
        std::vector<double> out(data.x.rows());
        ASSERT_TRUE(Predictor(*r).Predict(data.x, out, 1).ok());
      }
    }
  }
  EXPECT_GT(accepted, 0);  // e.g. a changed threshold is still a valid model
}

TEST(ModelFormatTest, SmallModelRoundTripsAndPredicts) {
  const Model m = SmallModel();
  ASSERT_TRUE(ValidateModel(m).ok());
  auto parsed = ParseModel(SerializeModel(m));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->feature_names, m.feature_names);
  EXPECT_EQ(parsed->base_score, 0.25);
}

TEST(ModelFormatTest, RejectsForgedStructure) {
  struct Case {
    const char* name;
    void (*mutate)(Model&);
  };
  const Case cases[] = {
      {"backward child (cycle)", [](Model& m) { m.nodes[1].left = 1; }},
      {"child past end", [](Model& m) { m.nodes[1].left = 4; }},
      {"shared child", [](Model& m) { m.nodes[1].left = 2; }},
      {"feature out of range", [](Model& m) { m.nodes[0].feature = 2; }},
      {"nan threshold", [](Model& m) { m.nodes[0].threshold = std::nanf(""); }},
      {"inf leaf", [](Model& m) { m.nodes[2].value = INFINITY; }},
      {"leaf with feature", [](Model& m) { m.nodes[2].feature = 1; }},
      {"internal with value", [](Model& m) { m.nodes[0].value = 1; }},
      {"duplicate names", [](Model& m) { m.feature_names[1] = "x0"; }},
      {"empty name", [](Model& m) { m.feature_names[1] = ""; }},
      {"nan base", [](Model& m) { m.base_score = NAN; }},
  };
  for (const auto& c : cases) {
    Model m = SmallModel();
    c.mutate(m);
    EXPECT_FALSE(ValidateModel(m).ok()) << c.name;
    // The serializer writes whatever it is given; the parser must refuse it.
    auto r = ParseModel(SerializeModel(m));
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << c.name;
  }
}

TEST(ModelFormatTest, RejectsBadHeaderFields) {
  const std::string good = SerializeModel(SmallModel());
  auto with = [&](size_t off, std::initializer_list<uint8_t> v) {
    std::string b = good;
    size_t i = off;
    for (uint8_t x : v) b[i++] = static_cast<char>(x);
    return Reseal(b);
  };
  EXPECT_NE(ParseModel(with(0, {'X'})).error().message().find("magic"), std::string::npos);
  EXPECT_NE(ParseModel(with(4, {2, 0})).error().message().find("version"), std::string::npos);
  EXPECT_FALSE(ParseModel(with(6, {1, 0})).ok());                 // flags
  EXPECT_FALSE(ParseModel(with(8, {2, 0, 0, 0})).ok());           // objective
  EXPECT_FALSE(ParseModel(with(12, {0xff, 0xff, 0xff, 0x7f})).ok());  // huge F
  EXPECT_FALSE(ParseModel(with(16, {0, 0, 0, 0})).ok());          // zero trees
  EXPECT_FALSE(ParseModel(with(20, {0xff, 0xff, 0xff, 0xff})).ok());  // huge N
}

TEST(ModelFormatTest, RejectsTooDeepTree) {
  // A left-leaning chain of K internal nodes (0, 1, 3, 5, ...), each with a
  // leaf as right child: a valid shape, but deeper than kMaxModelDepth.
  constexpr uint32_t kDepth = kMaxModelDepth + 6;
  Model m;
  m.feature_names = {"x"};
  m.nodes.assign(2 * kDepth + 1, Node{0, 0, 0, 1.0f});
  m.nodes[0] = {1, 0, 1.0f, 0};
  for (uint32_t k = 1; k < kDepth; ++k) m.nodes[2 * k - 1] = {2 * k + 1, 0, 1.0f, 0};
  m.tree_offsets = {0, static_cast<uint32_t>(m.nodes.size())};
  auto s = ValidateModel(m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("deeper"), std::string::npos) << s.error().message();
  // One level less deep than the limit is fine.
  Model ok;
  ok.feature_names = {"x"};
  constexpr uint32_t kOkDepth = kMaxModelDepth;
  ok.nodes.assign(2 * kOkDepth + 1, Node{0, 0, 0, 1.0f});
  ok.nodes[0] = {1, 0, 1.0f, 0};
  for (uint32_t k = 1; k < kOkDepth; ++k) ok.nodes[2 * k - 1] = {2 * k + 1, 0, 1.0f, 0};
  ok.tree_offsets = {0, static_cast<uint32_t>(ok.nodes.size())};
  EXPECT_TRUE(ValidateModel(ok).ok()) << ValidateModel(ok).ToString();
}

}  // namespace
}  // namespace cloister::functions::gbdt
