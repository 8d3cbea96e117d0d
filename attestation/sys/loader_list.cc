// Runs `ld.so --list` with posix_spawn and a pipe; see loader_list.h.
#include "attestation/sys/loader_list.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

namespace cloister::attestation::sys {

Result<std::string> SystemLoader() {
  // x86_64 and aarch64 glibc interpreter paths (the ELF PT_INTERP values).
  for (const char* p : {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return NotFound("no known dynamic loader on this system", kLoaderListFailed);
}

Result<std::string> RunLoaderList(const std::string& binary) {
  CLOISTER_ASSIGN_OR_RETURN(std::string loader, SystemLoader());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  std::string list_flag = "--list";
  std::vector<char*> argv = {loader.data(), list_flag.data(), const_cast<char*>(binary.c_str()),
                             nullptr};
  std::array<char*, 1> envp = {nullptr};  // clean environment: no LD_* influence
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, loader.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return ErrnoError(rc, "posix_spawn " + loader);
  }
  std::string out;
  bool too_big = false;
  std::array<char, 4096> buf;
  for (;;) {
    ssize_t n = ::read(fds[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxLoaderListBytes) too_big = true;
    else out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (too_big) return ResourceExhausted("ld.so --list output too large", kLoaderListFailed);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (out.find("not a dynamic executable") != std::string::npos) return out;
    return FailedPrecondition(loader + " --list " + binary + " failed (status " +
                                  std::to_string(status) + ")",
                              kLoaderListFailed);
  }
  return out;
}

}  // namespace cloister::attestation::sys
