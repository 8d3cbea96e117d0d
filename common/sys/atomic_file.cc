// Temp + fsync + rename + directory fsync; see atomic_file.h.
#include "common/sys/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/crypto/random.h"
#include "common/sys/unique_fd.h"

namespace cloister::sys {
namespace {

std::string DirName(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

// Removes the temp file unless disarmed (after a successful rename).
struct TempRemover {
  const std::string& path;
  bool armed = true;
  ~TempRemover() {
    if (armed) ::unlink(path.c_str());
  }
};

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp." + crypto::RandomId().substr(0, 8);
  int raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (raw < 0) return ErrnoError(errno, "create " + tmp);
  UniqueFd fd(raw);
  TempRemover remover{tmp};
  if (Status st = WriteAll(fd.get(), data); !st.ok()) return st.error().WithContext("write " + tmp);
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0)
    return ErrnoError(errno, "fsync " + tmp);
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(errno, "rename to " + path);
  remover.armed = false;
  UniqueFd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return OkStatus();
}

}  // namespace cloister::sys
