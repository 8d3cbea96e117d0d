// Test harness for the platform integration tests: a temporary cluster
// directory with platform state, auditor keys, a signed manifest of the
// given binaries (plus cloister-platform itself) and trust.toml, and the
// real cloister-platform daemon started on a socket inside it.
//
//   auto h = *PlatformHarness::Create({{"test-client-a", CLOISTER_TEST_CLIENT_A, 7, 2}});
//   ASSERT_TRUE(h->Start().ok());
//   auto out = *h->RunClient(CLOISTER_TEST_CLIENT_A, {"identity"});
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/x509.h"
#include "common/sys/process.h"

namespace cloister::attestation::testing {

inline constexpr uint32_t kNobody = 65534;

// What a helper binary run to completion printed, and how it ended.
struct RunOutput {
  int exit_code = -1;                       // sys::ExitStatus::ShellCode(): 128+signal if killed
  std::string out;                          // stdout
  std::map<std::string, std::string> kv;    // parsed "key=value" lines of stdout
};

struct ManifestBinary {
  std::string name;
  std::string path;
  uint32_t product_id = 0;
  uint32_t svn = 0;
};

class PlatformHarness {
 public:
  // The daemon binary is always added as "platform" (product 1, svn 1).
  static Result<std::unique_ptr<PlatformHarness>> Create(std::vector<ManifestBinary> binaries);
  PlatformHarness() = default;  // use Create()
  ~PlatformHarness();
  PlatformHarness(const PlatformHarness&) = delete;
  PlatformHarness& operator=(const PlatformHarness&) = delete;

  struct StartOptions {
    bool as_nobody = false;  // run the daemon as uid/gid 65534 (state chowned)
    std::vector<std::string> extra_args;
    // as_nobody: keep CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH (ambient)
    bool ptrace_cap = false;
  };
  // Starts cloister-platform and waits until it answers. FailedPrecondition
  // with its exit code if it exits instead.
  Status Start(const StartOptions& options);
  Status Start() { return Start(StartOptions{}); }
  // SIGTERM and wait; returns the exit code (sys::ExitStatus::ShellCode()).
  Result<int> Stop();
  bool Running() { return daemon_.has_value() && daemon_->Running(); }
  // Runs the daemon to completion (for start-up refusal tests).
  Result<RunOutput> RunDaemonToExit();

  // Runs a helper client: `binary socket args...`, optionally as nobody.
  Result<RunOutput> RunClient(const std::string& binary, const std::vector<std::string>& args,
                              bool as_nobody = false,
                              const std::vector<std::string>& extra_env = {});
  // As RunClient, as uid `uid` with primary gid `gid` (setpriv).
  Result<RunOutput> RunClientAs(uid_t uid, gid_t gid, const std::string& binary,
                                const std::vector<std::string>& args);
  // Copies a binary into the harness dir (mode 0755, world-readable path),
  // optionally appending bytes (a "modified binary").
  Result<std::string> CopyBinary(const std::string& binary, const std::string& name,
                                 std::string_view append = {});

  const std::string& dir() const { return dir_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& trust_path() const { return trust_path_; }
  const crypto::Certificate& root() const { return *root_; }

 private:
  std::string dir_, state_dir_, run_dir_, socket_path_, trust_path_, daemon_bin_;
  std::optional<crypto::Certificate> root_;
  // Fully qualified: testing::sys (tracer, hostile actions) would hide it.
  std::optional<::cloister::sys::Process> daemon_;
};

// SHA-256 of a file, hex (what `sha256sum` prints).
Result<std::string> Sha256FileHex(const std::string& path);

}  // namespace cloister::attestation::testing
