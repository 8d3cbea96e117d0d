// The audit writer's file operations (POSIX calls kept in one place): the
// segment list, reading only the tail of a segment, the current-segment
// link and directory syncs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::services::audit_files {

// Segment numbers of `base` present as regular files, ascending.
std::vector<uint64_t> ListSegments(const std::string& base);

// The last lines of a file, from the last line `is_anchor` accepts (or the
// first line) to the end, in order, without newlines. Reads backwards, so
// the cost is the tail's size, not the file's.
struct Tail {
  std::vector<std::string> lines;
  uint64_t file_size = 0;
  uint64_t bytes_read = 0;
  uint64_t first_line_offset = 0;  // file offset of lines[0]
  bool partial_last = false;       // the file does not end with a newline
};
Result<Tail> ReadTail(const std::string& path, const std::function<bool(std::string_view)>& is_anchor,
                      uint64_t max_bytes);

bool IsRegularFile(const std::string& path);  // not following symlinks
Status FsyncDir(const std::string& dir);
// Makes `link` a symlink to `target` (a name beside it), atomically.
Status PointLink(const std::string& link, const std::string& target);
// rename(2), then a sync of the directory.
Status RenameDurably(const std::string& from, const std::string& to);

}  // namespace cloister::services::audit_files
