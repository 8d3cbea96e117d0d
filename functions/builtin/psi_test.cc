// Tests for `psi`: agreement with a brute-force intersection for 2, 3 and 7
// parties with duplicates, per-party privacy of the outputs, input formats
// and limits.
#include "functions/builtin/psi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "functions/builtin/psi_engine.h"

namespace cloister::functions::builtin {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += id + "\n";
  return s;
}

Result<Outputs> RunPsi(Inputs inputs, std::map<std::string, std::string> args = {}) {
  return Invoke(*MakePsi(), args, std::move(inputs));
}

class PsiBruteForceTest : public ::testing::TestWithParam<int> {};

TEST_P(PsiBruteForceTest, MatchesBruteForceWithDuplicatesAndRevealsNothingElse) {
  const int parties = GetParam();
  std::mt19937_64 rng(1234 + parties);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::vector<std::string>> sets(parties);
    Inputs in;
    for (int p = 0; p < parties; ++p) {
      // A small universe makes intersections and duplicates common.
      const int n = static_cast<int>(rng() % 300);
      for (int i = 0; i < n; ++i) sets[p].push_back("id" + std::to_string(rng() % 200));
      in["set.p" + std::to_string(p)] = Join(sets[p]);
    }
    std::set<std::string> common(sets[0].begin(), sets[0].end());
    for (int p = 1; p < parties; ++p) {
      std::set<std::string> s(sets[p].begin(), sets[p].end()), keep;
      for (const auto& x : common)
        if (s.count(x)) keep.insert(x);
      common = keep;
    }
    auto out = RunPsi(in);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    auto flags = RunPsi(in, {{"output", "flags"}});
    ASSERT_TRUE(flags.ok());
    ASSERT_EQ(out->size(), static_cast<size_t>(parties));
    for (int p = 0; p < parties; ++p) {
      const std::string name = "result.p" + std::to_string(p);
      std::vector<std::string> expected;
      std::set<std::string> seen;
      std::string expected_flags;
      for (const auto& x : sets[p]) {
        expected_flags += common.count(x) ? "1\n" : "0\n";
        if (common.count(x) && seen.insert(x).second) expected.push_back(x);
      }
      EXPECT_EQ(Lines(out->at(name)), expected) << name;
      EXPECT_EQ(flags->at(name), expected_flags) << name;
      for (const auto& x : Lines(out->at(name))) EXPECT_TRUE(common.count(x)) << x;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Parties, PsiBruteForceTest, ::testing::Values(2, 3, 7));

TEST(PsiTest, EmptySetsGiveEmptyResults) {
  auto out = RunPsi({{"set.a", ""}, {"set.b", "x\ny\n"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->at("result.a"), "");
  EXPECT_EQ(out->at("result.b"), "");
  auto flags = RunPsi({{"set.a", ""}, {"set.b", "x\ny"}}, {{"output", "flags"}});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->at("result.b"), "0\n0\n");
}

TEST(PsiTest, ComparesUnicodeBytesExactlyAndTrimsOnlyWhenAsked) {
  // "é" precomposed vs. decomposed are different byte strings: no match.
  Inputs in = {{"set.a", "caf\xC3\xA9\r\n\xF0\x9F\x98\x80\n  x \n"},
               {"set.b", "cafe\xCC\x81\n\xF0\x9F\x98\x80\r\nx\n"}};
  auto out = RunPsi(in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->at("result.a"), "\xF0\x9F\x98\x80\nx\n");
  auto exact = RunPsi(in, {{"trim", "false"}});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->at("result.a"), "");
}

TEST(PsiTest, EmptyLinesNeverMatch) {
  auto out = RunPsi({{"set.a", "\n\nk\n"}, {"set.b", "\nk\n"}}, {{"output", "flags"}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->at("result.a"), "0\n0\n1\n");
  EXPECT_EQ(out->at("result.b"), "0\n1\n");
}

TEST(PsiTest, ReadsNamedCsvColumnWithQuotedIds) {
  Inputs in = {{"set.a", "email,age\n\"x,y\",1\nb@c,2\n\"multi\nline\",3\n"},
               {"set.b", "name;email\nq;b@c\nr;\"multi\nline\"\ns;\"x,y\"\n"}};
  auto out = RunPsi(in, {{"column", "email"}});
  ASSERT_FALSE(out.ok());  // set.b uses ';' but the delimiter is ','
  in["set.b"] = "name,email\nq,b@c\nr,\"multi\nline\"\ns,\"x,y\"\n";
  out = RunPsi(in, {{"column", "email"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->at("result.a"), "email\n\"x,y\"\nb@c\n\"multi\nline\"\n");
  auto flags = RunPsi(in, {{"column", "email"}, {"output", "flags"}});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->at("result.b"), "1\n1\n1\n");
}

TEST(PsiTest, RejectsTooLongIdsWithoutQuotingThem) {
  const std::string secret(100, 's');
  auto out = RunPsi({{"set.a", "ok\n" + secret + "\n"}, {"set.b", "ok\n"}},
                    {{"max_id_bytes", "64"}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(out.error().reason(), "PSI_ID_TOO_LONG");
  EXPECT_THAT(out.error().message(), HasSubstr("set.a line 2"));
  EXPECT_THAT(out.error().message(), ::testing::Not(HasSubstr("sss")));
}

TEST(PsiTest, RejectsInputsPastTheMemoryBound) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += std::to_string(i) + "\n";
  auto out = RunPsi({{"set.a", big}, {"set.b", big}}, {{"max_memory_mb", "4"}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code(), Code::kResourceExhausted);
  EXPECT_EQ(out.error().reason(), "PSI_MEMORY_LIMIT");
}

TEST(PsiTest, RejectsBadArgumentsAndPartyCounts) {
  EXPECT_EQ(RunPsi({{"set.a", "x"}, {"set.b", "x"}}, {{"output", "union"}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(RunPsi({{"set.a", "x"}, {"set.b", "x"}}, {{"delimiter", ",,"}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(RunPsi({{"set.a", "x"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(RunPsi({{"set.a", "x"}, {"set.b", "x"}}, {{"column", "nope"}}).code(),
            Code::kInvalidArgument);
  Inputs many;
  for (int i = 0; i < 65; ++i) many["set.p" + std::to_string(i)] = "x";
  EXPECT_EQ(RunPsi(many).code(), Code::kInvalidArgument);
}

TEST(PsiEngineTest, HandlesManyIdsAndDistinguishesNearCollisions) {
  // Ids that share long prefixes and differ in the last byte only.
  std::vector<std::string> a, b;
  for (int i = 0; i < 20000; ++i) {
    a.push_back(std::string(40, 'p') + std::to_string(i));
    if (i % 3 == 0) b.push_back(std::string(40, 'p') + std::to_string(i));
  }
  std::vector<std::vector<std::string_view>> sets(2);
  for (const auto& s : a) sets[0].push_back(s);
  for (const auto& s : b) sets[1].push_back(s);
  auto m = Intersect(sets, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->intersection_size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(m->InIntersection(0, i), i % 3 == 0);
}

}  // namespace
}  // namespace cloister::functions::builtin
