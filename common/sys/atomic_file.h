// Atomic, durable file replacement: the one place Cloister writes a file so
// that a crash leaves either the old or the new content, never a torn one.
//
// A raw-C-API wrapper file (open/fsync/rename/fsync of the directory).
//
//   CLOISTER_RETURN_IF_ERROR(sys::WriteFileAtomic(path, bytes, 0600));
#pragma once

#include <sys/types.h>

#include <string>
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

}  // namespace cloister::sys
