// End-to-end tests of gbdt_train / gbdt_predict through the runtime
// (gbdt_functions.h): outputs, argument handling and every error path.
#include "functions/gbdt/gbdt_functions.h"

#include <gtest/gtest.h>

#include <charconv>
#include <sstream>

#include "functions/gbdt/model.h"
#include "functions/gbdt/testing/synthetic_data.h"

namespace cloister::functions {
namespace {

using gbdt::Objective;

class GbdtFunctionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fns = MakeGbdtFunctions();
    ASSERT_EQ(fns.size(), 2u);
    train_ = std::move(fns[0]);
    predict_ = std::move(fns[1]);
    ASSERT_EQ(train_->spec().name, "gbdt_train");
    ASSERT_EQ(predict_->spec().name, "gbdt_predict");
  }

  Result<Outputs> TrainCsv(const std::string& csv, std::map<std::string, std::string> args) {
    return Invoke(*train_, args, {{"data", csv}});
  }

  static std::vector<double> Lines(const std::string& s) {
    std::vector<double> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
      double v = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
      EXPECT_TRUE(ec == std::errc() && p == line.data() + line.size()) << line;
      out.push_back(v);
    }
    return out;
  }

  std::unique_ptr<Function> train_, predict_;
};

TEST_F(GbdtFunctionsTest, TrainThenPredictBinary) {
  auto d = gbdt::testing::MakeSynthetic(2000, 6, Objective::kBinary, 9);
  const std::string csv = gbdt::testing::ToCsv(d, "label");
  auto out = TrainCsv(csv, {{"label", "label"}, {"objective", "binary"}, {"num_trees", "15"},
                            {"max_depth", "3"}, {"subsample", "0.8"}, {"seed", "3"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  ASSERT_TRUE(out->count("model") && out->count("metrics"));
  const std::string& metrics = out->at("metrics");
  EXPECT_NE(metrics.find("\"loss\":\"logloss\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"train_loss\":"), std::string::npos);
  EXPECT_NE(metrics.find("\"trees\":15"), std::string::npos);
  auto model = gbdt::ParseModel(out->at("model"));
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->feature_names, d.names);  // label column excluded

  // Prediction data includes the label column and is read by name.
  auto pred = Invoke(*predict_, {}, {{"model", out->at("model")}, {"data", csv}});
  ASSERT_TRUE(pred.ok()) << pred.error().ToString();
  const auto p = Lines(pred->at("predictions"));
  ASSERT_EQ(p.size(), 2000u);
  size_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    ASSERT_GE(p[i], 0.0);
    ASSERT_LE(p[i], 1.0);
    correct += (p[i] >= 0.5) == (d.y[i] == 1.0f);
  }
  EXPECT_GT(correct, 1600u);
}

TEST_F(GbdtFunctionsTest, PredictReadsColumnsByName) {
  const std::string train = "y,a,b\n1,1,10\n2,2,20\n3,3,30\n4,4,40\n5,5,50\n6,6,60\n";
  auto out = TrainCsv(train, {{"label", "y"}, {"num_trees", "5"}, {"min_child_weight", "0"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  const std::string reordered = "b,extra,a\n10,0,1\n60,0,6\n";
  const std::string plain = "a,b\n1,10\n6,60\n";
  auto p1 = Invoke(*predict_, {}, {{"model", out->at("model")}, {"data", reordered}});
  auto p2 = Invoke(*predict_, {}, {{"model", out->at("model")}, {"data", plain}});
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->at("predictions"), p2->at("predictions"));
  const auto v = Lines(p1->at("predictions"));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_LT(v[0], v[1]);

  auto missing = Invoke(*predict_, {}, {{"model", out->at("model")}, {"data", "a\n1\n"}});
  ASSERT_EQ(missing.code(), Code::kInvalidArgument);
  EXPECT_NE(missing.error().message().find("'b'"), std::string::npos);

  auto empty = Invoke(*predict_, {}, {{"model", out->at("model")}, {"data", "a,b\n"}});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->at("predictions"), "");
}

TEST_F(GbdtFunctionsTest, TrainErrorsAreInvalidArgumentWithNoOutput) {
  const std::string good = "x,y\n1,0\n2,1\n3,0\n4,1\n";
  struct Case {
    std::string csv;
    std::map<std::string, std::string> args;
    std::string needle;  // expected in the message
  };
  const std::vector<Case> cases = {
      {good, {{"label", "y"}, {"objective", "poisson"}}, "objective"},
      {"x,y\n1,0\n2,zz\n", {{"label", "y"}}, "line 3, column 2 ('y')"},
      {good, {{"label", "nope"}}, "label column 'nope'"},
      {"x,y\n1,0\n2,2\n", {{"label", "y"}, {"objective", "binary"}}, "not 0 or 1"},
      {"x,y\n1,0\n2,\n", {{"label", "y"}}, "missing"},
      {"x,y\n", {{"label", "y"}}, "no data rows"},
      {"", {{"label", "y"}}, "empty"},
      {"y\n1\n2\n", {{"label", "y"}}, "no feature columns"},
      {good, {{"label", "y"}, {"max_depth", "0"}}, "max_depth"},
      {good, {{"label", "y"}, {"max_depth", "17"}}, "max_depth"},
      {good, {{"label", "y"}, {"num_trees", "0"}}, "num_trees"},
      {good, {{"label", "y"}, {"learning_rate", "0"}}, "learning_rate"},
      {good, {{"label", "y"}, {"learning_rate", "abc"}}, "learning_rate"},
      {good, {{"label", "y"}, {"subsample", "0"}}, "subsample"},
      {good, {{"label", "y"}, {"colsample", "2"}}, "colsample"},
      {good, {{"label", "y"}, {"max_bins", "1"}}, "max_bins"},
      {good, {{"label", "y"}, {"seed", "-1"}}, "seed"},
      {good, {{"label", "y"}, {"min_samples_leaf", "0"}}, "min_samples_leaf"},
      {good, {{"label", "y"}, {"lambda", "-1"}}, "lambda"},
      {good, {{"label", "y"}, {"unknown_arg", "1"}}, "unknown_arg"},
      {good, {}, "label"},
  };
  for (const auto& c : cases) {
    auto out = TrainCsv(c.csv, c.args);
    ASSERT_FALSE(out.ok()) << c.needle;
    EXPECT_EQ(out.code(), Code::kInvalidArgument) << out.error().ToString();
    EXPECT_NE(out.error().message().find(c.needle), std::string::npos)
        << "want '" << c.needle << "' in: " << out.error().ToString();
  }
}

TEST_F(GbdtFunctionsTest, PredictRejectsBadModelsAndData) {
  auto out = TrainCsv("x,y\n1,0\n2,1\n3,0\n4,1\n", {{"label", "y"}, {"num_trees", "2"}});
  ASSERT_TRUE(out.ok());
  const std::string model = out->at("model");
  for (const std::string& bad :
       {std::string(), std::string("garbage"), model.substr(0, model.size() - 1),
        model.substr(0, 20)}) {
    auto r = Invoke(*predict_, {}, {{"model", bad}, {"data", "x\n1\n"}});
    ASSERT_EQ(r.code(), Code::kInvalidArgument);
    EXPECT_EQ(r.error().reason(), "GBDT_BAD_MODEL");
  }
  auto bad_cell = Invoke(*predict_, {}, {{"model", model}, {"data", "x\n1\nfoo\n"}});
  ASSERT_EQ(bad_cell.code(), Code::kInvalidArgument);
  EXPECT_NE(bad_cell.error().message().find("line 3"), std::string::npos);
  auto no_data = Invoke(*predict_, {}, {{"model", model}});
  EXPECT_FALSE(no_data.ok());
}

}  // namespace
}  // namespace cloister::functions
