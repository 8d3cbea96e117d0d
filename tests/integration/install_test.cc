// `cmake --install` gives a prefix from which the whole cluster runs: the
// build is installed into a temporary prefix, and only that prefix's
// `cloister` (run from an unrelated directory, /) initialises a cluster,
// brings it up, logs in and runs a call through the gateway. Nothing from
// the source or build tree is needed at run time (the gateway policy is
// built in; the service binaries are found next to `cloister`).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"

namespace cloister::testing {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `cmd` with sh from / (an unrelated directory), with `stdin_file` as
// standard input when given.
RunResult Sh(const std::string& cmd, const std::string& stdin_file = "") {
  std::string line = "cd / && " + cmd + (stdin_file.empty() ? "" : " < " + Quote(stdin_file));
  auto r = RunProcess({"/bin/sh", "-c", line}, std::chrono::minutes(3));
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : RunResult{};
}

TEST(InstallTest, ClusterRunsFromAnInstalledPrefixAlone) {
  TempDir dir;
  const std::string prefix = dir / "prefix";
  RunResult inst = Sh(Quote(CLOISTER_CMAKE) + " --install " + Quote(CLOISTER_BUILD_DIR) +
                      " --prefix " + Quote(prefix));
  ASSERT_EQ(inst.exit_code, 0) << inst.out << inst.err;

  const std::string cli = Quote(prefix + "/bin/cloister") + " --home " + Quote(dir / "home");
  RunResult init = Sh(cli + " --json cluster init --gateway-port 0");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  auto j = nlohmann::json::parse(init.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << init.out;
  EXPECT_TRUE(j["missing_binaries"].empty()) << j.dump();
  // The built-in policy was written for operators to edit.
  EXPECT_EQ(j["policy"], dir / "home/policy.toml");
  std::ofstream(dir / "pw") << j["admin_password"].get<std::string>() << "\n";

  RunResult up = Sh(cli + " cluster up");
  EXPECT_EQ(up.exit_code, 0) << up.out << up.err;
  if (up.exit_code == 0) {
    RunResult login = Sh(cli + " login --user admin --password-stdin", dir / "pw");
    EXPECT_EQ(login.exit_code, 0) << login.out << login.err;
    std::ofstream(dir / "input.txt") << "installed and attested";
    RunResult call = Sh(cli + " call echo --input data=" + Quote(dir / "input.txt") +
                        " --output-dir " + Quote(dir / "out"));
    EXPECT_EQ(call.exit_code, 0) << call.out << call.err;
    std::ifstream out(dir / "out/data");
    std::string got((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got, "installed and attested");
  }
  RunResult down = Sh(cli + " cluster down");
  EXPECT_EQ(down.exit_code, 0) << down.err;
}

// A `cloister` whose service binaries are missing fails `cluster init`
// loudly, naming what is missing and how to get it, and writes nothing.
TEST(InstallTest, InitFailsLoudlyWithoutTheServiceBinaries) {
  TempDir dir;
  RunResult cp = Sh("mkdir -p " + Quote(dir / "bin") + " && cp " + Quote(CLOISTER_CLI_BIN) + " " +
                    Quote(dir / "bin/cloister"));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  RunResult init = Sh(Quote(dir / "bin/cloister") + " --home " + Quote(dir / "home") +
                      " cluster init --gateway-port 0");
  EXPECT_NE(init.exit_code, 0);
  EXPECT_NE(init.err.find("cloister-gateway"), std::string::npos) << init.err;
  EXPECT_NE(init.err.find("cmake --install"), std::string::npos) << init.err;
  std::ifstream cluster_toml(dir / "home/cluster.toml");
  EXPECT_FALSE(cluster_toml.good()) << "init wrote a cluster although it cannot run";
}

}  // namespace
}  // namespace cloister::testing
