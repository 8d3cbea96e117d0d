// POSIX file operations of the audit writer; see audit_files.h.
#include "services/common/audit_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "common/sys/unique_fd.h"
#include "services/common/audit_format.h"

namespace cloister::services::audit_files {
namespace {

namespace fs = std::filesystem;

std::string DirOf(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

Status PreadAll(int fd, uint64_t offset, std::string& out, size_t n) {
  out.resize(n);
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError(errno, "read audit segment");
    if (got == 0) return DataLoss("audit segment shrank while being read");
    done += static_cast<size_t>(got);
  }
  return OkStatus();
}

}  // namespace

std::vector<uint64_t> ListSegments(const std::string& base) {
  std::vector<uint64_t> out;
  const std::string name = fs::path(base).filename().string();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(DirOf(base), ec)) {
    auto n = AuditSegmentNumber(name, e.path().filename().string());
    if (n && IsRegularFile(e.path().string())) out.push_back(*n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Tail> ReadTail(const std::string& path, const std::function<bool(std::string_view)>& is_anchor,
                      uint64_t max_bytes) {
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd, sys::OpenFd(path, O_RDONLY | O_NOFOLLOW));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, "stat " + path);
  Tail t;
  t.file_size = static_cast<uint64_t>(st.st_size);
  if (t.file_size == 0) return t;
  std::string buf;  // the file's bytes [pos, size)
  uint64_t pos = t.file_size;
  constexpr uint64_t kChunk = 64 * 1024;
  std::string last;
  CLOISTER_RETURN_IF_ERROR(PreadAll(fd.get(), t.file_size - 1, last, 1));
  t.partial_last = last[0] != '\n';
  // `line_end`: file offset just past the next line to look at (its '\n' excluded).
  uint64_t line_end = t.partial_last ? t.file_size : t.file_size - 1;
  {
    const uint64_t n = std::min(kChunk, t.file_size);
    CLOISTER_RETURN_IF_ERROR(PreadAll(fd.get(), t.file_size - n, buf, static_cast<size_t>(n)));
    pos = t.file_size - n;
  }
  uint64_t start = 0;
  for (;;) {
    const size_t rel_end = static_cast<size_t>(line_end - pos);
    const size_t nl = rel_end == 0 ? std::string::npos : buf.rfind('\n', rel_end - 1);
    if (nl != std::string::npos) {
      const uint64_t line_start = pos + nl + 1;
      if (is_anchor(std::string_view(buf).substr(nl + 1, rel_end - nl - 1))) {
        start = line_start;
        break;
      }
      line_end = pos + nl;
      continue;
    }
    if (pos == 0) {
      start = 0;  // the first line: the tail is the whole file
      break;
    }
    const uint64_t n = std::min(kChunk, pos);
    if (t.file_size - (pos - n) > max_bytes)
      return DataLoss("no checkpoint or segment header in the last " + std::to_string(max_bytes) +
                          " bytes of " + path,
                      audit_reason::kCheckpointMissing);
    std::string chunk;
    CLOISTER_RETURN_IF_ERROR(PreadAll(fd.get(), pos - n, chunk, static_cast<size_t>(n)));
    pos -= n;
    buf.insert(0, chunk);
  }
  t.bytes_read = t.file_size - pos;
  t.first_line_offset = start;
  std::string_view rest = std::string_view(buf).substr(static_cast<size_t>(start - pos));
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      t.lines.emplace_back(rest);
      break;
    }
    t.lines.emplace_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  return t;
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status FsyncDir(const std::string& dir) {
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd, sys::OpenFd(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "fsync " + dir);
  return OkStatus();
}

Status PointLink(const std::string& link, const std::string& target) {
  const std::string tmp = link + ".link-tmp";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return ErrnoError(errno, "symlink " + tmp);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(err, "rename " + tmp);
  }
  return FsyncDir(DirOf(link));
}

Status RenameDurably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError(errno, "rename " + from);
  return FsyncDir(DirOf(to));
}

}  // namespace cloister::services::audit_files
