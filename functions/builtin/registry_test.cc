// Tests for the built-in registry, and the table-driven contract every
// built-in keeps: bad arguments or malformed inputs give a clear error code,
// never a crash, and never a (partial) output.
#include "functions/builtin/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace cloister::functions::builtin {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, ListsEveryBuiltinSortedAndFindsByName) {
  const Registry& r = Builtins();
  std::vector<std::string> names;
  for (const FunctionSpec* s : r.List()) names.push_back(s->name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* n : {"echo", "psi", "linreg_train", "linreg_predict", "rsa_sign",
                        "rsa_verify", "aes_encrypt", "aes_decrypt"}) {
    const Function* f = r.Find(n);
    ASSERT_NE(f, nullptr) << n;
    EXPECT_EQ(f->spec().name, n);
  }
  EXPECT_EQ(r.Find("nope"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
#if __has_include("functions/gbdt/gbdt_functions.h")
  EXPECT_NE(r.Find("gbdt_train"), nullptr);
#endif
}

TEST(RegistryTest, EverySpecIsDocumented) {
  for (const FunctionSpec* s : Builtins().List()) {
    EXPECT_FALSE(s->description.empty()) << s->name;
    for (const auto& a : s->args) EXPECT_FALSE(a.help.empty()) << s->name << "." << a.name;
    for (const auto& i : s->inputs) EXPECT_FALSE(i.help.empty()) << s->name << "<" << i.name;
    for (const auto& o : s->outputs) EXPECT_FALSE(o.help.empty()) << s->name << ">" << o.name;
  }
}

TEST(RegistryTest, RejectsDuplicateAndNullFunctions) {
  struct Named final : Function {
    FunctionSpec s{"same", "d", {}, {}, {}};
    const FunctionSpec& spec() const override { return s; }
    Status Run(Runtime&) const override { return OkStatus(); }
  };
  Registry r;
  EXPECT_TRUE(r.Add(std::make_unique<Named>()).ok());
  EXPECT_EQ(r.Add(std::make_unique<Named>()).code(), Code::kAlreadyExists);
  EXPECT_EQ(r.Add(nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(r.size(), 1u);
}

struct BadCase {
  std::string function;
  std::map<std::string, std::string> args;
  Inputs inputs;
  Code code;
  std::string message;  // substring of the error message
};

const std::string kAesKey(32, 'k');
const std::string kCsv = "a,b,y\n1,2,3\n2,1,4\n3,5,9\n4,4,9\n";
const std::string kModel =
    R"({"format":"cloister.linreg.v1","label":"y","features":["a"],"coefficients":[1],)"
    R"("intercept":0,"fit_intercept":true,"lambda":0})";

std::vector<BadCase> BadCases() {
  const Code kBad = Code::kInvalidArgument;
  return {
      // Runtime-level checks, for every function alike.
      {"echo", {{"x", "1"}}, {{"data", "d"}}, kBad, "has no argument 'x'"},
      {"echo", {}, {}, kBad, "requires input 'data'"},
      {"echo", {}, {{"data", "d"}, {"extra", "e"}}, kBad, "no input slot 'extra'"},
      // psi
      {"psi", {}, {{"set.a", "x"}}, kBad, "2..64"},
      {"psi", {{"output", "all"}}, {{"set.a", "x"}, {"set.b", "x"}}, kBad, "intersection|flags"},
      {"psi", {{"max_id_bytes", "0"}}, {{"set.a", "x"}, {"set.b", "x"}}, kBad, "max_id_bytes"},
      {"psi", {{"max_id_bytes", "abc"}}, {{"set.a", "x"}, {"set.b", "x"}}, kBad, "not an integer"},
      {"psi", {{"column", "id"}}, {{"set.a", "id\nx\n"}, {"set.b", "x\n"}}, kBad, "set.b"},
      {"psi", {{"column", "id"}}, {{"set.a", "id\n\"x\n"}, {"set.b", "id\nx\n"}}, kBad,
       "unterminated"},
      {"psi", {{"max_memory_mb", "1"}}, {{"set.a", std::string(1 << 20, '\n')}, {"set.b", "x"}},
       Code::kResourceExhausted, "working memory"},
      // linreg_train
      {"linreg_train", {}, {{"data", kCsv}}, kBad, "requires argument 'label'"},
      {"linreg_train", {{"label", "y"}}, {{"data", ""}}, kBad, "empty"},
      {"linreg_train", {{"label", "y"}}, {{"data", "a,y\n1,2\nx,3\n"}}, kBad,
       "line 3, column 1 ('a'): 'x' is not a number"},
      {"linreg_train", {{"label", "y"}}, {{"data", "a,y\n1,2\n3\n"}}, kBad, "line 3"},
      {"linreg_train", {{"label", "y"}, {"missing", "nan"}}, {{"data", kCsv}}, kBad, "error|skip"},
      {"linreg_train", {{"label", "y"}, {"solver", "magic"}}, {{"data", kCsv}}, kBad, "auto|qr"},
      {"linreg_train", {{"label", "y"}, {"lambda", "nan"}}, {{"data", kCsv}}, kBad, "lambda"},
      {"linreg_train", {{"label", "y"}, {"delimiter", ""}}, {{"data", kCsv}}, kBad, "delimiter"},
      {"linreg_train", {{"label", "y"}, {"features", "a,,b"}}, {{"data", kCsv}}, kBad, "empty"},
      {"linreg_train", {{"label", "y"}}, {{"data", "a,y\n1,2\n"}}, kBad, "at least"},
      // linreg_predict
      {"linreg_predict", {}, {{"model", "{}"}, {"data", kCsv}}, kBad, "linreg model"},
      {"linreg_predict", {}, {{"model", "\xff\xfe"}, {"data", kCsv}}, kBad, "linreg model"},
      {"linreg_predict", {}, {{"model", kModel}, {"data", "b\n1\n"}}, kBad, "no column 'a'"},
      {"linreg_predict", {{"missing", "skip"}}, {{"model", kModel}, {"data", kCsv}}, kBad,
       "error|nan"},
      {"linreg_predict", {}, {{"model", kModel}}, kBad, "requires input 'data'"},
      // rsa_*
      {"rsa_sign", {}, {{"key", ""}, {"data", "x"}}, kBad, "RSA private key"},
      {"rsa_sign", {}, {{"key", "garbage"}, {"data", "x"}}, kBad, "RSA private key"},
      {"rsa_sign", {{"padding", "none"}}, {{"key", "k"}, {"data", "x"}}, kBad, "pss|pkcs1"},
      {"rsa_verify", {}, {{"key", "k"}, {"data", "x"}, {"signature", "s"}}, kBad, "RSA public"},
      {"rsa_verify", {}, {{"key", "k"}, {"data", "x"}}, kBad, "requires input 'signature'"},
      // aes_*
      {"aes_encrypt", {}, {{"key", "short"}, {"data", "x"}}, kBad, "32 raw bytes"},
      {"aes_encrypt", {}, {{"data", "x"}}, kBad, "requires input 'key'"},
      {"aes_decrypt", {}, {{"key", kAesKey}, {"data", "short"}}, kBad, "truncated"},
      {"aes_decrypt", {}, {{"key", kAesKey}, {"data", std::string(40, 'x')}}, kBad,
       "authentication failed"},
  };
}

TEST(BuiltinContractTest, BadArgumentsAndInputsFailCleanlyWithoutOutput) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.function + " / " + c.message);
    const Function* fn = Builtins().Find(c.function);
    ASSERT_NE(fn, nullptr);
    auto rt = Runtime::Create(fn->spec(), c.args, c.inputs);
    Status s = rt.ok() ? fn->Run(**rt) : rt.status();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_THAT(s.error().message(), HasSubstr(c.message)) << s.ToString();
    if (rt.ok()) {
      EXPECT_EQ((*rt)->output_bytes(), 0u) << "partial output";
    }
  }
}

// Random bytes in every input slot: any result is fine except a crash or a
// success that wrote into an undeclared output.
TEST(BuiltinContractTest, SurvivesRandomInputs) {
  std::mt19937_64 rng(99);
  for (const FunctionSpec* spec : Builtins().List()) {
    if (spec->name.rfind("gbdt", 0) == 0) continue;  // owned and fuzzed by functions/gbdt
    const Function* fn = Builtins().Find(spec->name);
    std::map<std::string, std::string> args;
    for (const auto& a : spec->args)
      if (!a.default_value) args[a.name] = "y";
    for (int round = 0; round < 40; ++round) {
      Inputs in;
      for (const auto& slot : spec->inputs) {
        std::string bytes(rng() % (round < 20 ? 64 : 600), '\0');
        for (char& ch : bytes) ch = "a,1\n\"\r-.e9 \xff"[rng() % 12];
        if (slot.name == "key" && spec->name.rfind("aes", 0) == 0 && round % 2) bytes.resize(32);
        in[slot.variadic ? slot.name + ".p1" : slot.name] = bytes;
        if (slot.variadic) in[slot.name + ".p2"] = bytes.substr(bytes.size() / 2);
      }
      auto out = Invoke(*fn, args, in);
      if (out.ok()) {
        for (const auto& [name, bytes] : *out)
          EXPECT_NE(MatchSlot(spec->outputs, name), nullptr) << spec->name << " " << name;
      } else {
        EXPECT_NE(out.error().code(), Code::kInternal) << out.error().ToString();
      }
    }
  }
}

}  // namespace
}  // namespace cloister::functions::builtin
