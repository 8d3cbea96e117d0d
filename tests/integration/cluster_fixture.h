// A real single-node cluster for integration tests, driven through the
// `cloister` CLI exactly as an operator would: `cluster init` in a private
// home with ephemeral ports, `cluster up`, helpers to run CLI commands
// (optionally with stdin), and `cluster down` at the end. One per test
// suite: starting a cluster takes seconds.
//
//   static ClusterFixture* c = ...; ASSERT_TRUE(c->Start().ok());
//   auto r = c->Cli({"call", "echo", "--input", "data=" + path});
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tests/support/subprocess.h"

namespace cloister::testing {

class ClusterFixture {
 public:
  ClusterFixture();
  ~ClusterFixture();  // cluster down

  // init (ports chosen free) + up. The admin password is kept for tests.
  // `edit_cluster_toml` / `edit_policy_toml` (old text → new) edit
  // cluster.toml / the gateway's policy.toml after init, followed by
  // `cluster manifest` (the re-signing an edit needs).
  Status Start(const std::function<std::string(std::string)>& edit_cluster_toml = nullptr,
               const std::function<std::string(std::string)>& edit_policy_toml = nullptr);
  Status Down();

  // Runs `cloister --home <home> args...`; `stdin_text` is piped in when set.
  RunResult Cli(const std::vector<std::string>& args, const std::string* stdin_text = nullptr,
                std::chrono::seconds timeout = std::chrono::seconds(120));
  // Same with --json, stdout parsed (null JSON when not parsable).
  nlohmann::json CliJson(const std::vector<std::string>& args,
                         const std::string* stdin_text = nullptr, int* exit_code = nullptr);

  const std::string& home() const { return home_; }
  std::string trust_path() const { return home_ + "/trust.toml"; }
  const std::string& gateway() const { return gateway_; }
  const std::string& admin_password() const { return admin_password_; }
  const std::string& scratch() const { return dir_.path(); }
  // pid of a service from its pid file (-1 if none).
  int ServicePid(const std::string& svc) const;

 private:
  TempDir dir_;
  std::string home_;
  std::string gateway_;
  std::string admin_password_;
  bool started_ = false;
};

}  // namespace cloister::testing
