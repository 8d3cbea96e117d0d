// Temp + fsync + rename + directory fsync; see atomic_file.h.
#include "common/sys/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

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

AtomicFileWriter::AtomicFileWriter(std::string path, std::string tmp, int fd, mode_t mode)
    : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd), mode_(mode) {}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(std::exchange(o.fd_, -1)),
      mode_(o.mode_), committed_(std::exchange(o.committed_, true)) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path, mode_t mode) {
  std::string tmp = path + ".tmp." + crypto::RandomId().substr(0, 8);
  int raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (raw < 0) return ErrnoError(errno, "create " + tmp);
  return AtomicFileWriter(path, std::move(tmp), raw, mode);
}

Status AtomicFileWriter::Append(ByteView data) {
  if (fd_ < 0 || committed_) return FailedPrecondition("write to a committed or moved file");
  if (Status st = WriteAll(fd_, AsChars(data)); !st.ok()) return st.error().WithContext("write " + tmp_);
  return OkStatus();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0 || committed_) return FailedPrecondition("file already committed");
  if (::fchmod(fd_, mode_) != 0 || ::fsync(fd_) != 0) return ErrnoError(errno, "fsync " + tmp_);
  ::close(std::exchange(fd_, -1));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return ErrnoError(errno, "rename to " + path_);
  committed_ = true;
  UniqueFd dir(::open(DirName(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return OkStatus();
}

Result<size_t> ReadFull(int fd, std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read");
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace cloister::sys
