// Wraps memfd_create/symlink/rename for in-memory TLS credential files; see
// credential_files.h.
#include "attestation/sys/credential_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/crypto/random.h"

namespace cloister::attestation::sys {
namespace {

Status WriteAll(int fd, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write memfd");
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<int> MakeMemfd(const char* name, ByteView data) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "memfd_create");
  if (auto st = WriteAll(fd, data); !st.ok()) {
    ::close(fd);
    return st.error();
  }
  return fd;
}

std::string RuntimeBase() {
  struct stat st {};
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) return "/dev/shm";
  const char* t = std::getenv("TMPDIR");
  return t ? t : "/tmp";
}

}  // namespace

CredentialFiles::CredentialFiles(Key, std::string dir, int key_fd)
    : dir_(std::move(dir)), key_path_(dir_ + "/key.pem"), cert_path_(dir_ + "/cert.pem"),
      key_fd_(key_fd) {}

Result<std::unique_ptr<CredentialFiles>> CredentialFiles::Create(const SecretBytes& key_pem) {
  std::string dir = RuntimeBase() + "/cloister-ratls-" + std::to_string(::getpid()) + "-" +
                    crypto::RandomId().substr(0, 12);
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoError(errno, "mkdir " + dir);
  CLOISTER_ASSIGN_OR_RETURN(int kfd, MakeMemfd("cloister-tls-key", key_pem.view()));
  auto files = std::make_unique<CredentialFiles>(Key(), dir, kfd);
  std::string target = "/proc/self/fd/" + std::to_string(kfd);
  if (::symlink(target.c_str(), files->key_path_.c_str()) != 0)
    return ErrnoError(errno, "symlink key");
  return files;
}

Status CredentialFiles::UpdateCertificate(std::string_view cert_pem) {
  std::lock_guard<std::mutex> lock(mu_);
  CLOISTER_ASSIGN_OR_RETURN(int cfd, MakeMemfd("cloister-tls-cert", AsBytes(cert_pem)));
  std::string tmp = dir_ + "/cert.pem." + std::to_string(++generation_);
  std::string target = "/proc/self/fd/" + std::to_string(cfd);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    int e = errno;
    ::close(cfd);
    return ErrnoError(e, "symlink cert");
  }
  if (::rename(tmp.c_str(), cert_path_.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    ::close(cfd);
    return ErrnoError(e, "rename cert");
  }
  cert_fds_.push_back(cfd);
  // Keep a few generations: a watcher that resolved the old link a moment
  // ago must still be able to open it.
  while (cert_fds_.size() > 3) {
    ::close(cert_fds_.front());
    cert_fds_.erase(cert_fds_.begin());
  }
  return OkStatus();
}

CredentialFiles::~CredentialFiles() {
  ::unlink(key_path_.c_str());
  ::unlink(cert_path_.c_str());
  ::rmdir(dir_.c_str());
  if (key_fd_ >= 0) {
    // Scrub the key's memory before the memfd goes away.
    off_t size = ::lseek(key_fd_, 0, SEEK_END);
    if (size > 0) {
      Bytes zeros(static_cast<size_t>(size), 0);
      (void)!::pwrite(key_fd_, zeros.data(), zeros.size(), 0);
    }
    ::close(key_fd_);
  }
  for (int fd : cert_fds_) ::close(fd);
}

}  // namespace cloister::attestation::sys
