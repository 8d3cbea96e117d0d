// Test process control over sys::Process; see subprocess.h.
#include "tests/support/subprocess.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/fs.h"

namespace cloister::testing {

Result<Subprocess> Subprocess::Start(const std::vector<std::string>& argv,
                                     const SubprocessOptions& options) {
  if (argv.empty()) return InvalidArgument("empty argv");
  static int counter = 0;
  std::string prefix = options.log_prefix.empty()
                           ? "/tmp/cloister-test-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(counter++)
                           : options.log_prefix;
  std::string out_path = prefix + ".out";
  std::string err_path = prefix + ".err";
  sys::SpawnOptions spawn;
  spawn.env = options.env;
  spawn.stdout_to = sys::Redirect::Truncate(out_path, 0644);
  spawn.stderr_to = sys::Redirect::Truncate(err_path, 0644);
  spawn.new_process_group = true;  // a terminal's Ctrl-C reaches the test, not its daemons
  spawn.gid = options.gid;
  spawn.uid = options.uid;
  CLOISTER_ASSIGN_OR_RETURN(sys::Process process, sys::Process::Spawn(argv, spawn));
  return Subprocess(std::move(process), std::move(out_path), std::move(err_path));
}

// sys::Process kills (SIGKILL) and reaps a child still running on
// destruction and on move-assignment over it.
Subprocess::Subprocess(Subprocess&& o) noexcept = default;
Subprocess& Subprocess::operator=(Subprocess&& o) noexcept = default;
Subprocess::~Subprocess() = default;

Result<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  CLOISTER_ASSIGN_OR_RETURN(sys::ExitStatus status, process_.Wait(timeout));
  return status.ShellCode();
}

bool Subprocess::Running() { return process_.Running(); }

void Subprocess::Signal(int sig) { process_.Signal(sig); }

void Subprocess::Kill() { process_.Kill(); }

std::string Subprocess::Stdout() const {
  auto r = ReadFile(out_path_);
  return r.ok() ? *r : "";
}
std::string Subprocess::Stderr() const {
  auto r = ReadFile(err_path_);
  return r.ok() ? *r : "";
}

Result<RunResult> RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                      const SubprocessOptions& options) {
  CLOISTER_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start(argv, options));
  auto code = p.Wait(timeout);
  if (!code.ok()) {
    p.Kill();
    return DeadlineExceeded("timed out: " + argv[0] + "\nstderr: " + p.Stderr());
  }
  return RunResult{*code, p.Stdout(), p.Stderr()};
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/cloister-test-XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  if (d == nullptr) std::abort();
  path_ = d;
  ::chmod(path_.c_str(), 0755);  // non-root test clients must reach sockets inside
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<std::string> ReadCmdline(int pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  std::vector<std::string> argv;
  if (!text.ok()) return argv;
  std::string cur;
  for (char c : *text) {
    if (c == '\0') {
      argv.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return argv;
}

}  // namespace cloister::testing
