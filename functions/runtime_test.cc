// Tests for argument typing, slot validation and output limits (runtime.h).
#include "functions/runtime.h"

#include <gtest/gtest.h>

namespace cloister::functions {
namespace {

FunctionSpec TestSpec() {
  FunctionSpec s;
  s.name = "t";
  s.args = {{"n", ArgType::kInt, ArgValue(int64_t{3}), "", 0.0, 10.0},
            {"x", ArgType::kDouble, std::nullopt, "", std::nullopt, std::nullopt},
            {"flag", ArgType::kBool, ArgValue(false), "", std::nullopt, std::nullopt}};
  s.inputs = {{"data", "", false, false, 1, 1},
              {"set", "", false, true, 2, 3}};
  s.outputs = {{"out", "", false, false, 1, 1}};
  return s;
}

TEST(ArgsTest, ParsesTypesAndFillsDefaults) {
  auto a = Args::FromStrings(TestSpec(), {{"x", "2.5"}});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(*a->GetInt("n"), 3);
  EXPECT_DOUBLE_EQ(*a->GetDouble("x"), 2.5);
  EXPECT_FALSE(*a->GetBool("flag"));
}

TEST(ArgsTest, RejectsUnknownMissingMalformedAndOutOfBounds) {
  EXPECT_EQ(Args::FromStrings(TestSpec(), {{"x", "1"}, {"zz", "1"}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Args::FromStrings(TestSpec(), {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Args::FromStrings(TestSpec(), {{"x", "1e"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Args::FromStrings(TestSpec(), {{"x", "nan"}}).code(), Code::kInvalidArgument);
  auto r = Args::FromStrings(TestSpec(), {{"x", "1"}, {"n", "11"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("'n'"), std::string::npos);
  EXPECT_EQ(Args::FromStrings(TestSpec(), {{"x", "1"}, {"flag", "maybe"}}).code(),
            Code::kInvalidArgument);
}

TEST(RuntimeTest, ValidatesSlots) {
  Inputs ok{{"data", "d"}, {"set.a", "1"}, {"set.b", "2"}};
  auto rt = Runtime::Create(TestSpec(), {{"x", "1"}}, ok);
  ASSERT_TRUE(rt.ok()) << rt.error().ToString();
  EXPECT_EQ((*rt)->InputsOf("set"), (std::vector<std::string>{"set.a", "set.b"}));
  EXPECT_EQ(Runtime::Create(TestSpec(), {{"x", "1"}}, {{"data", "d"}, {"set.a", "1"}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Runtime::Create(TestSpec(), {{"x", "1"}},
                            {{"set.a", "1"}, {"set.b", "2"}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Runtime::Create(TestSpec(), {{"x", "1"}},
                            {{"data", "d"}, {"set.a", "1"}, {"set.b", "2"}, {"other", ""}})
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Runtime::Create(TestSpec(), {{"x", "1"}},
                            {{"data", "d"}, {"set.", "1"}, {"set.b", "2"}}).code(),
            Code::kInvalidArgument);
}

TEST(RuntimeTest, EnforcesOutputLimits) {
  Limits lim;
  lim.max_output_bytes = 10;
  auto rt = Runtime::Create(TestSpec(), {{"x", "1"}},
                            {{"data", "d"}, {"set.a", "1"}, {"set.b", "2"}}, lim);
  ASSERT_TRUE(rt.ok());
  EXPECT_TRUE((*rt)->Write("out", "12345").ok());
  EXPECT_EQ((*rt)->Write("nope", "x").code(), Code::kInvalidArgument);
  auto s = (*rt)->Write("out", "123456");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.error().reason(), "OUTPUT_LIMIT_EXCEEDED");
  auto out = std::move(**rt).TakeOutputs();
  EXPECT_EQ(out["out"], "12345");
}

}  // namespace
}  // namespace cloister::functions
