// The canonical configuration text and its id (attestation/enclave_config.h).
#include "attestation/enclave_config.h"

#include <gtest/gtest.h>

namespace cloister::attestation {
namespace {

TEST(EnclaveConfigTest, TextIsSortedAndIdCoversEveryValue) {
  EnclaveConfig a;
  ASSERT_TRUE(a.Set("listen", "127.0.0.1:1").ok());
  ASSERT_TRUE(a.Set("db", "sqlite:///x.db").ok());
  EXPECT_EQ(a.Text(), "db=sqlite:///x.db\nlisten=127.0.0.1:1\n");
  EnclaveConfig b = a;
  ASSERT_TRUE(b.Set("db", "sqlite:///y.db").ok());
  EXPECT_NE(a.Id(), b.Id());
  EnclaveConfig c;  // insertion order does not matter
  ASSERT_TRUE(c.Set("db", "sqlite:///x.db").ok());
  ASSERT_TRUE(c.Set("listen", "127.0.0.1:1").ok());
  EXPECT_EQ(a.Id(), c.Id());
  EXPECT_EQ(a.Id(), ConfigIdOfText(a.Text()));
}

TEST(EnclaveConfigTest, ValuesWithNewlinesCannotForgeAnotherKey) {
  // Without escaping, "x\nrole=gateway" would read as a second line.
  EnclaveConfig a;
  ASSERT_TRUE(a.Set("db", "x\nrole=gateway").ok());
  EnclaveConfig b;
  ASSERT_TRUE(b.Set("db", "x").ok());
  ASSERT_TRUE(b.Set("role", "gateway").ok());
  EXPECT_NE(a.Text(), b.Text());
  auto parsed = EnclaveConfig::Parse(a.Text());
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(*parsed->Find("db"), "x\nrole=gateway");
  EXPECT_EQ(parsed->Find("role"), nullptr);
  ASSERT_TRUE(a.Set("path", "a\\b").ok());
  EXPECT_EQ(*EnclaveConfig::Parse(a.Text())->Find("path"), "a\\b");
}

TEST(EnclaveConfigTest, ParseRefusesNonCanonicalText) {
  for (const char* bad : {"b=1\na=2\n", "a=1\na=2\n", "a=1", "noequals\n", "A=1\n", "=1\n",
                          "a=x\\q\n", "a=x\\\n"}) {
    auto r = EnclaveConfig::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().reason(), kConfigMalformed) << bad;
  }
  EXPECT_FALSE(EnclaveConfig::Parse(std::string(kMaxConfigTextBytes + 1, 'a')).ok());
  EXPECT_TRUE(EnclaveConfig::Parse("").ok());
}

TEST(EnclaveConfigTest, KeysOutsideTheAlphabetAreRefused) {
  EnclaveConfig c;
  EXPECT_FALSE(c.Set("", "x").ok());
  EXPECT_FALSE(c.Set("Key", "x").ok());
  EXPECT_FALSE(c.Set("a=b", "x").ok());
  EXPECT_FALSE(c.Set(std::string(65, 'a'), "x").ok());
  EXPECT_TRUE(c.Set("auth-addr", "x").ok());
  EXPECT_TRUE(c.Set("trust.root", "x").ok());
}

TEST(EnclaveConfigTest, DifferingKeysNamesChangedAddedAndRemoved) {
  EnclaveConfig a, b;
  ASSERT_TRUE(a.Set("db", "1").ok());
  ASSERT_TRUE(a.Set("listen", "x").ok());
  ASSERT_TRUE(a.Set("only-a", "x").ok());
  ASSERT_TRUE(b.Set("db", "2").ok());
  ASSERT_TRUE(b.Set("listen", "x").ok());
  ASSERT_TRUE(b.Set("only-b", "x").ok());
  EXPECT_EQ(DifferingKeys(a, b), (std::vector<std::string>{"db", "only-a", "only-b"}));
  EXPECT_TRUE(DifferingKeys(a, a).empty());
}

}  // namespace
}  // namespace cloister::attestation
