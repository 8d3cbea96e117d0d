// Raw POSIX calls of the blob store; see posix_file.h (a raw-C-API wrapper file).
#include "services/storage/sys/posix_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <memory>

namespace cloister::storage_service::posix {
namespace {

// off_t is signed: refuse offsets it cannot hold instead of wrapping.
Status CheckOffset(uint64_t offset, size_t length, const std::string& path) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > kMax || length > kMax - offset)
    return OutOfRange("offset beyond the largest file size: " + path);
  return OkStatus();
}

}  // namespace

Result<PosixFile> PosixFile::Open(const std::string& path, OpenMode mode) {
  const int flags = (mode == OpenMode::kRead ? O_RDONLY : (O_RDWR | O_CREAT)) | O_NOFOLLOW;
  CLOISTER_ASSIGN_OR_RETURN(cloister::sys::UniqueFd fd, cloister::sys::OpenFd(path, flags, 0600));
  return PosixFile(std::move(fd), path);
}

Status PosixFile::WriteAt(uint64_t offset, ByteView data) {
  CLOISTER_RETURN_IF_ERROR(CheckOffset(offset, data.size(), path_));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write " + path_);
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<size_t> PosixFile::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  CLOISTER_RETURN_IF_ERROR(CheckOffset(offset, out.size(), path_));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd_.get(), out.data() + got, out.size() - got,
                        static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read " + path_);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

Status PosixFile::Truncate(uint64_t length) {
  CLOISTER_RETURN_IF_ERROR(CheckOffset(length, 0, path_));
  while (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0) {
    if (errno != EINTR) return ErrnoError(errno, "truncate " + path_);
  }
  return OkStatus();
}

Status PosixFile::Sync() {
  if (::fsync(fd_.get()) != 0) return ErrnoError(errno, "fsync " + path_);
  return OkStatus();
}

Result<uint64_t> PosixFile::Size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return ErrnoError(errno, "stat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) return ErrnoError(errno, "mkdir " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(path + " exists and is not a directory");
  return false;
}

Status SyncDir(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(cloister::sys::UniqueFd fd,
                            cloister::sys::OpenFd(path, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "fsync " + path);
  return OkStatus();
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return ErrnoError(errno, "rename " + from + " to " + to);
  return OkStatus();
}

Result<bool> Remove(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoError(errno, "unlink " + path);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) return ErrnoError(errno, "opendir " + dir);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  if (errno != 0) return ErrnoError(errno, "readdir " + dir);
  return names;
}

}  // namespace cloister::storage_service::posix
