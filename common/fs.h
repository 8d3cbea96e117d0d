// File helpers with the durability and permission rules Cloister relies on.
//
//   CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(path, bytes, 0600));
//   CLOISTER_ASSIGN_OR_RETURN(std::string data, ReadFile(path, 1 << 20));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace cloister {

// Reads a whole file. NotFound / PermissionDenied from errno;
// ResourceExhausted if it is larger than `max_bytes`.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 64u << 20);

// Writes via temp file + fsync + rename + fsync(dir), so a crash leaves
// either the old or the new content, never a torn file. `mode` applies from
// creation (no window with looser permissions).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0600);
inline Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode = 0600) {
  return WriteFileAtomic(path, AsChars(data), mode);
}

// mkdir -p with `mode` for created directories.
Status MakeDirs(const std::string& path, mode_t mode = 0700);

bool FileExists(const std::string& path);

// FailedPrecondition if the file is readable or writable by group/other:
// secrets must be 0600.
Status CheckPrivateFile(const std::string& path);

// Absolute path of the running executable (/proc/self/exe).
Result<std::string> SelfExePath();

}  // namespace cloister
