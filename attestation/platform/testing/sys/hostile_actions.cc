// Raw mmap/dlopen/dup/exec/fork/waitpid for the test client; see
// hostile_actions.h.
#include "attestation/platform/testing/sys/hostile_actions.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "common/fs.h"

namespace cloister::attestation::testing::sys {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Status MapAnonymousExec() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ErrnoError(errno, "mmap PROT_EXEC");
  return OkStatus();  // deliberately never unmapped
}

Status LoadLibrary(const std::string& path) {
  if (::dlopen(path.c_str(), RTLD_NOW) == nullptr)
    return Internal(std::string("dlopen: ") + ::dlerror());
  return OkStatus();  // deliberately never closed
}

Result<int> InheritableCopy(int fd) {
  int copy = ::dup(fd);  // dup() clears FD_CLOEXEC
  if (copy < 0) return ErrnoError(errno, "dup");
  return copy;
}

Status Exec(const std::vector<std::string>& argv) {
  auto args = Argv(argv);
  ::execv(args[0], args.data());
  return ErrnoError(errno, "execv " + argv[0]);
}

Result<int> ForkExecWait(const std::vector<std::string>& argv) {
  auto args = Argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork");
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Status SignalAndWait(const std::string& path, int timeout_ms) {
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(path, std::to_string(::getpid()), 0644));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!FileExists(path + ".go")) {
    if (std::chrono::steady_clock::now() > deadline) return DeadlineExceeded("no go signal");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return OkStatus();
}

}  // namespace cloister::attestation::testing::sys
