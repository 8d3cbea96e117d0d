// Tests that config errors name file, key and reason, and typos are refused.
#include "common/config.h"

#include <gtest/gtest.h>

namespace cloister {
namespace {

TEST(ConfigTest, TypedAccessWithDefaultsAndBounds) {
  auto cfg = ConfigFile::Parse("[cluster]\nsecurity_level = 3\nname = \"dev\"\n", "c.toml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(*cfg->GetInt("cluster.security_level", 2, 1, 5), 3);
  EXPECT_EQ(*cfg->GetInt("cluster.missing", 7, 1, 10), 7);
  EXPECT_EQ(*cfg->GetString("cluster.name", ""), "dev");
  auto bad = cfg->GetInt("cluster.security_level", 2, 4, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("c.toml"), std::string::npos);
  EXPECT_NE(bad.error().message().find("cluster.security_level"), std::string::npos);
  EXPECT_EQ(cfg->GetBool("cluster.name", false).code(), Code::kInvalidArgument);
}

// Found by fuzz_policy: an integer toml++ cannot make a double aborted the
// reader (an empty optional dereferenced), and nan passed the range check.
TEST(ConfigTest, DoublesRefuseInexactIntegersAndNan) {
  auto cfg = ConfigFile::Parse("big = 9007199254740993\nn = nan\nok = 12\nf = 0.5\n", "p.toml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->GetDouble("big", 1, 0, 1e300).code(), Code::kInvalidArgument);
  EXPECT_EQ(cfg->GetDouble("n", 1, 0.1, 1e7).code(), Code::kInvalidArgument);
  EXPECT_EQ(*cfg->GetDouble("ok", 1, 0.1, 1e7), 12.0);
  EXPECT_EQ(*cfg->GetDouble("f", 1, 0.1, 1e7), 0.5);
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  auto cfg = ConfigFile::Parse("a = 1\nb = = 2\n", "x.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().message().find("x.toml:2"), std::string::npos) << cfg.error().message();
}

TEST(ConfigTest, UnknownKeysRefused) {
  auto cfg = ConfigFile::Parse("[cluster]\nsecurty_level = 3\n[limits]\na=1\n", "c.toml");
  ASSERT_TRUE(cfg.ok());
  auto st = cfg->CheckKnownKeys({"cluster.security_level", "limits.*"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("cluster.securty_level"), std::string::npos);
  EXPECT_TRUE(ConfigFile::Parse("[limits]\nb=2\n", "c")->CheckKnownKeys({"limits.*"}).ok());
}

}  // namespace
}  // namespace cloister
