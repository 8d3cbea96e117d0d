// Wraps open/pread/close for the one file-content hash; see file_hash.h.
#include "attestation/sys/file_hash.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace cloister::attestation::sys {

Result<crypto::Digest> HashFd(int fd, uint64_t max_bytes) {
  std::array<uint8_t, 1 << 16> buf;
  crypto::Sha256Hasher hasher;
  uint64_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read file to hash");
    }
    if (n == 0) return hasher.Finish();
    off += static_cast<uint64_t>(n);
    if (off > max_bytes)
      return ResourceExhausted("file is larger than the measurement limit of " +
                                   std::to_string(max_bytes) + " bytes",
                               kFileTooLarge);
    hasher.Update(ByteView(buf.data(), static_cast<size_t>(n)));
  }
}

Result<crypto::Digest> HashFile(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  auto d = HashFd(fd, max_bytes);
  ::close(fd);
  if (!d.ok()) return d.error().WithContext(path);
  return d;
}

}  // namespace cloister::attestation::sys
