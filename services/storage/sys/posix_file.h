// The POSIX calls cloister-storage's blob store needs that common/sys/ does
// not offer: positional read/write, truncate, fsync of files and
// directories, rename, unlink, directory listing.
//
// A raw-C-API wrapper file: the only place in services/storage/ that calls
// pread/pwrite/ftruncate/fsync/rename/unlink/mkdir/opendir directly.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto f, posix::PosixFile::Open(path, posix::OpenMode::kReadWrite));
//   CLOISTER_RETURN_IF_ERROR(f.WriteAt(offset, data));
//   CLOISTER_RETURN_IF_ERROR(f.Sync());
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "common/sys/unique_fd.h"

namespace cloister::storage_service::posix {

enum class OpenMode {
  kRead,       // O_RDONLY; NotFound if absent
  kReadWrite,  // O_RDWR | O_CREAT, 0600
};

// One open regular file (never a symlink: O_NOFOLLOW). Move-only; not
// thread-safe (one owner at a time). Errors come from errno with the path
// in the message (ErrnoError: NotFound, PermissionDenied, Internal...).
class PosixFile {
 public:
  static Result<PosixFile> Open(const std::string& path, OpenMode mode);

  // Writes all of `data` at `offset` (retrying EINTR and short writes).
  Status WriteAt(uint64_t offset, ByteView data);
  // Reads up to out.size() bytes at `offset`; fewer only at end of file.
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const;
  Status Truncate(uint64_t length);
  // fsync(2): data and size durable when it returns OK.
  Status Sync();
  Result<uint64_t> Size() const;
  const std::string& path() const { return path_; }

 private:
  PosixFile(cloister::sys::UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  cloister::sys::UniqueFd fd_;
  std::string path_;
};

// mkdir with mode 0700; OK if a directory is already there. Returns true
// if it was created (the caller then fsyncs the parent).
Result<bool> MakeDir(const std::string& path);
// fsync of a directory, so a create/rename/unlink inside it is durable.
Status SyncDir(const std::string& path);
// rename(2): atomic replacement of `to`.
Status Rename(const std::string& from, const std::string& to);
// unlink(2); false (not an error) if the file was already gone.
Result<bool> Remove(const std::string& path);
// Whether `path` names an existing entry (lstat).
bool Exists(const std::string& path);
// Names in `dir` (without "." and ".."); the caller filters them.
Result<std::vector<std::string>> ListDir(const std::string& dir);

}  // namespace cloister::storage_service::posix
