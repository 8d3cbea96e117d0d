// Atomic, durable file replacement: the one place Cloister writes a file so
// that a crash leaves either the old or the new content, never a torn one.
//
// A raw-C-API wrapper file (open/fsync/rename/fsync of the directory).
//
//   CLOISTER_RETURN_IF_ERROR(sys::WriteFileAtomic(path, bytes, 0600));
#pragma once

#include <sys/types.h>

#include <string>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace cloister::sys {

// Writes a temp file beside `path`, fsyncs it, renames it over `path`, then
// fsyncs the directory. `mode` applies from creation (no window with looser
// permissions). On error the temp file is removed and `path` is untouched.
// Errors from errno ("create", "write", "fsync", "rename" in the message).
// Thread-safe for distinct paths; concurrent writers of one path: last wins.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0600);
inline Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode = 0600) {
  return WriteFileAtomic(path, AsChars(data), mode);
}

// The streaming form, for files too large to hold in memory (the SDK's
// decrypted downloads, cloister-storage's blobs): Append as often as
// needed, then Commit (fsync, rename over `path`, fsync the directory).
// Destroyed without Commit, the temp file is removed and `path` untouched.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> Create(const std::string& path, mode_t mode = 0600);
  AtomicFileWriter(AtomicFileWriter&& o) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  Status Append(ByteView data);
  Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string tmp, int fd, mode_t mode);
  std::string path_, tmp_;
  int fd_ = -1;  // owned; closed by Commit or the destructor
  mode_t mode_;
  bool committed_ = false;
};

// Reads up to out.size() bytes, retrying short reads; returns how many
// were read (fewer only at end of file).
Result<size_t> ReadFull(int fd, std::span<uint8_t> out);

}  // namespace cloister::sys
