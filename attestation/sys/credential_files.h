// Wraps memfd_create/symlink/rename: hands an enclave's TLS key and current
// RA-TLS certificate to gRPC's FileWatcherCertificateProvider without ever
// writing them to disk. The key lives in a memfd; paths are symlinks to
// /proc/self/fd/N in a private 0700 directory on tmpfs, and a certificate
// update is an atomic symlink rename (gRPC reads whole files, never a torn
// one). Other processes cannot follow /proc/<pid>/fd of a non-dumpable
// enclave.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/secret.h"

namespace cloister::attestation::sys {

class CredentialFiles {
 public:
  // Creates the private directory and writes the key (PEM) into a memfd.
  static Result<std::unique_ptr<CredentialFiles>> Create(const SecretBytes& key_pem);
  ~CredentialFiles();
  CredentialFiles(const CredentialFiles&) = delete;
  CredentialFiles& operator=(const CredentialFiles&) = delete;

  // Atomically publishes a new certificate chain (PEM).
  Status UpdateCertificate(std::string_view cert_pem);

  const std::string& key_path() const { return key_path_; }
  const std::string& cert_path() const { return cert_path_; }

  struct Key {
    explicit Key() = default;
  };
  CredentialFiles(Key, std::string dir, int key_fd);

 private:
  std::mutex mu_;              // serialises UpdateCertificate
  std::string dir_;            // set once in the constructor
  std::string key_path_;       // set once in the constructor
  std::string cert_path_;      // set once in the constructor
  int key_fd_ = -1;            // set once in the constructor
  std::vector<int> cert_fds_;  // the last few, so a reader mid-open still succeeds; guarded by mu_
  uint64_t generation_ = 0;    // guarded by mu_
};

}  // namespace cloister::attestation::sys
