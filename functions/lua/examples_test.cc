// Runs the example functions in examples/lua/ with their specs, in-process
// and forked, and checks their outputs.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "functions/lua/lua_function.h"
#include "functions/lua/spec_json.h"
#include "functions/lua/test_util.h"

#if __has_include("functions/builtin/registry.h")
#include "functions/builtin/registry.h"
#define CLOISTER_HAVE_BUILTIN_REGISTRY 1
#endif

namespace cloister::functions::lua {
namespace {

std::string ReadExample(const std::string& name) {
  std::ifstream f(std::string(CLOISTER_LUA_EXAMPLES_DIR) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class ExamplesTest : public ::testing::TestWithParam<bool> {
 protected:
  Result<Outputs> RunExample(const std::string& stem, Inputs inputs,
                             std::map<std::string, std::string> args = {}) {
    auto spec = ParseFunctionSpecJson(ReadExample(stem + ".spec.json"));
    if (!spec.ok()) return spec.error();
    SandboxOptions opts;
    opts.limits = testing::TestLimits();
    opts.forked = GetParam();
#ifdef CLOISTER_HAVE_BUILTIN_REGISTRY
    opts.builtins = [](std::string_view n) { return builtin::Builtins().Find(n); };
#endif
    auto fn = LuaFunction::Create(*spec, ReadExample(stem + ".lua"), opts);
    if (!fn.ok()) return fn.error();
    return Invoke(**fn, args, std::move(inputs));
  }
};

INSTANTIATE_TEST_SUITE_P(Modes, ExamplesTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Forked" : "InProcess"; });

TEST_P(ExamplesTest, WordCount) {
  auto out = RunExample("wordcount", {{"text", "The cat and the hat.\nThe END, the end!\n"}},
                        {{"top", "3"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->at("counts"), "word,count\nthe,4\nend,2\nand,1\n");
}

TEST_P(ExamplesTest, JoinOfTwoPartiesCsv) {
  auto out = RunExample(
      "join",
      {{"left", "id,name,score\n1,alice,10\n2,bob,20\n3,\"carol, c\",30\n"},
       {"right", "id,city,score\r\n3,Oslo,7\r\n1,\"New \"\"York\"\"\",5\r\n9,Rome,1\r\n"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->at("joined"),
            "id,name,left_score,city,right_score\n"
            "3,\"carol, c\",30,Oslo,7\n"
            "1,alice,10,\"New \"\"York\"\"\",5\n");
}

TEST_P(ExamplesTest, JoinOnMissingKeyFails) {
  auto out = RunExample("join", {{"left", "a,b\n1,2\n"}, {"right", "id\n1\n"}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().reason(), "LUA_RUNTIME_ERROR");
}

TEST_P(ExamplesTest, PsiThroughBuiltin) {
#ifndef CLOISTER_HAVE_BUILTIN_REGISTRY
  GTEST_SKIP() << "functions/builtin/registry.h not available at build time";
#else
  auto out = RunExample("psi_normalized",
                        {{"set.alice", " Ann@x.org\nbob@y.org\ncarl@z.org\n"},
                         {"set.bob", "dave@w.org\nANN@X.ORG \ncarl@z.org\n"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->at("result.alice"), "ann@x.org\ncarl@z.org\n");
  EXPECT_EQ(out->at("result.bob"), "ann@x.org\ncarl@z.org\n");
#endif
}

}  // namespace
}  // namespace cloister::functions::lua
