// Wraps posix_spawn/waitpid/kill for the platform integration tests: run a
// helper binary and capture its stdout, or start a daemon in the background.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::attestation::testing {

struct RunOutput {
  int exit_code = -1;                       // -1: killed by a signal
  std::string out;                          // stdout
  std::map<std::string, std::string> kv;    // parsed "key=value" lines of stdout
};

// Runs argv[0] (a path) to completion with stdout captured, stderr inherited.
// `extra_env` ("NAME=VALUE") is added to this process's environment.
Result<RunOutput> RunCapture(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_env = {});

// A background process; killed (SIGKILL) and reaped on destruction unless
// stopped first.
class Child {
 public:
  static Result<Child> Spawn(const std::vector<std::string>& argv);
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child();
  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `signo` and waits up to `timeout_ms`; returns the exit code
  // (-signal if killed by a signal), or DeadlineExceeded.
  Result<int> Stop(int signo, int timeout_ms);
  // Waits for exit without signalling.
  Result<int> Wait(int timeout_ms);

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace cloister::attestation::testing
