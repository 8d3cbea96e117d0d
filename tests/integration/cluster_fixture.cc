// ClusterFixture: a real cluster through the CLI; see cluster_fixture.h.
#include "tests/integration/cluster_fixture.h"

#include <cstdlib>
#include <filesystem>

#include <charconv>

#include "common/fs.h"

namespace cloister::testing {

ClusterFixture::ClusterFixture() : home_(dir_ / "home") {}

ClusterFixture::~ClusterFixture() {
  if (started_) (void)Down();
  // CLOISTER_TEST_KEEP_LOGS=DIR: keep the cluster home (logs, databases) of a run
  // (the cluster's home is a temporary directory removed with the fixture).
  if (const char* keep = std::getenv("CLOISTER_TEST_KEEP_LOGS"); keep != nullptr && *keep) {
    std::error_code ec;
    std::filesystem::create_directories(keep, ec);
    std::filesystem::copy(home_, keep,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing,
                          ec);
  }
}

RunResult ClusterFixture::Cli(const std::vector<std::string>& args, const std::string* stdin_text,
                              std::chrono::seconds timeout) {
  std::vector<std::string> argv;
  SubprocessOptions opts;
  if (stdin_text != nullptr) {
    // The secret goes through the environment of a shell that pipes it in,
    // never through argv (which `ps` shows).
    argv = {"/bin/sh", "-c", "printf '%s\\n' \"$CLOISTER_TEST_STDIN\" | \"$@\"", "sh"};
    opts.env["CLOISTER_TEST_STDIN"] = *stdin_text;
  }
  argv.push_back(CLOISTER_CLI_BIN);
  argv.push_back("--home");
  argv.push_back(home_);
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcess(argv, timeout, opts);
  if (!r.ok()) return RunResult{-1, "", r.error().ToString()};
  return *r;
}

nlohmann::json ClusterFixture::CliJson(const std::vector<std::string>& args,
                                       const std::string* stdin_text, int* exit_code) {
  std::vector<std::string> a = {"--json"};
  a.insert(a.end(), args.begin(), args.end());
  RunResult r = Cli(a, stdin_text);
  if (exit_code != nullptr) *exit_code = r.exit_code;
  auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return nlohmann::json{{"__stdout", r.out}, {"__stderr", r.err}, {"__exit", r.exit_code}};
  }
  if (j.is_object()) j["__stderr"] = r.err;
  return j;
}

Status ClusterFixture::Start(const std::function<std::string(std::string)>& edit_cluster_toml,
                             const std::function<std::string(std::string)>& edit_policy_toml) {
  int code = 0;
  auto init = CliJson({"cluster", "init", "--gateway-port", "0"}, nullptr, &code);
  if (code != 0) return Internal("cluster init failed: " + init.dump());
  admin_password_ = init.value("admin_password", "");
  gateway_ = init.value("gateway", "");
  // An operator's edit of a file of the home.
  auto edit = [](const std::string& path,
                 const std::function<std::string(std::string)>& f) -> Status {
    auto toml = ReadFile(path, 1 << 20);
    if (!toml.ok()) return toml.error();
    return WriteFileAtomic(path, f(*toml), 0644);
  };
  if (edit_cluster_toml) CLOISTER_RETURN_IF_ERROR(edit(home_ + "/cluster.toml", edit_cluster_toml));
  if (edit_policy_toml) CLOISTER_RETURN_IF_ERROR(edit(home_ + "/policy.toml", edit_policy_toml));
  if (edit_cluster_toml || edit_policy_toml) {
    // Both files are part of the services' signed configuration: re-sign.
    auto m = CliJson({"cluster", "manifest"}, nullptr, &code);
    if (code != 0) return Internal("cluster manifest failed: " + m.dump());
  }
  auto up = CliJson({"cluster", "up"}, nullptr, &code);
  started_ = true;
  if (code != 0) return Internal("cluster up failed: " + up.dump());
  return OkStatus();
}

Status ClusterFixture::Down() {
  RunResult r = Cli({"cluster", "down"});
  started_ = false;
  if (r.exit_code != 0) return Internal("cluster down failed: " + r.err);
  return OkStatus();
}

int ClusterFixture::ServicePid(const std::string& svc) const {
  auto text = ReadFile(home_ + "/run/" + svc + ".pid", 64);
  if (!text.ok()) return -1;
  int pid = -1;
  const char* b = text->data();
  auto [end, ec] = std::from_chars(b, b + text->size(), pid);
  return ec == std::errc() && end != b ? pid : -1;
}

}  // namespace cloister::testing
