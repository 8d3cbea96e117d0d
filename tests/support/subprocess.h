// Starts real processes for integration tests: argv, env, stdout/stderr
// captured to files, wait with a timeout, kill on destruction (so a failed
// assertion never leaves a daemon behind). A thin layer over sys::Process.
//
//   auto p = *Subprocess::Start({bin, "--flag"}, {.log_prefix = dir + "/server"});
//   int code = *p.Wait(std::chrono::seconds(10));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/sys/process.h"

namespace cloister::testing {

struct SubprocessOptions {
  std::string log_prefix;                    // writes <prefix>.out / <prefix>.err
  std::map<std::string, std::string> env;    // added to (or replacing in) the environment
  std::optional<uid_t> uid;                  // drop to this uid/gid before exec (needs root)
  std::optional<gid_t> gid;
};

class Subprocess {
 public:
  static Result<Subprocess> Start(const std::vector<std::string>& argv,
                                  const SubprocessOptions& options = {});
  Subprocess(Subprocess&& o) noexcept;
  Subprocess& operator=(Subprocess&& o) noexcept;
  Subprocess(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return process_.pid(); }
  // Exit code, or 128+signal (sys::ExitStatus::ShellCode). DeadlineExceeded
  // if still running.
  Result<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  void Signal(int sig);
  void Kill();  // SIGKILL + reap
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  Subprocess(sys::Process process, std::string out_path, std::string err_path)
      : process_(std::move(process)), out_path_(std::move(out_path)),
        err_path_(std::move(err_path)) {}
  sys::Process process_;
  std::string out_path_, err_path_;
};

// Runs to completion; returns {exit code, stdout, stderr}.
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
Result<RunResult> RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                      const SubprocessOptions& options = {});

// A private temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls until `path` exists and is non-empty, or the timeout passes.
bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout);

// The argv of a running process (/proc/<pid>/cmdline); empty if gone.
std::vector<std::string> ReadCmdline(int pid);

}  // namespace cloister::testing
