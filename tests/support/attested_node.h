// AttestedNode: a real single-node trust setup for integration tests —
// platform state (`InitPlatform`), N-of-M auditor keys, a signed manifest
// of the given binaries, trust.toml, and the real cloister-platform daemon
// on a private socket.
//
//   AttestedNode node({{"test-server", kServerBin}, {"test-client", kClientBin}});
//   ASSERT_TRUE(node.Start().ok());
//   Run({kServerBin, "--trust", node.trust_path(), ...});
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/crypto/keys.h"
#include "proto/attestation.pb.h"
#include "tests/support/subprocess.h"

namespace cloister::testing {

struct AttestedNodeOptions {
  int security_level = 2;
  int auditors = 3;
  int threshold = 2;
  int64_t quote_max_age_s = 600;
  std::string platform_binary;  // path of cloister-platform
  // svn of each enclave, parallel to the enclave list (missing: 1). Entries
  // with the same name share one product id (several releases of a role).
  std::vector<uint32_t> svns;
  // Roles whose configuration the manifest pins (PinConfig). Every other
  // role's entries are any_config: test roles whose flags vary per test.
  std::vector<std::string> pinned_roles;
};

class AttestedNode {
 public:
  // `enclaves`: manifest name → binary path.
  AttestedNode(std::vector<std::pair<std::string, std::string>> enclaves,
               AttestedNodeOptions options);
  ~AttestedNode();

  // Creates all files and starts the daemon; waits for its socket.
  Status Start();
  void StopPlatform();

  const std::string& dir() const { return dir_.path(); }
  std::string trust_path() const { return dir_ / "trust.toml"; }
  std::string socket_path() const { return dir_ / "platform.sock"; }

  // Writes another trust file next to the first, with a different manifest
  // file and/or settings; returns its path.
  Result<std::string> WriteTrustVariant(const std::string& name, const std::string& manifest_file,
                                        int security_level, int64_t quote_max_age_s);
  // A manifest signed by the first `signers` auditor keys, written to `file`.
  Status WriteManifest(const std::string& file, const attestation::ManifestBody& body, int signers);
  const attestation::ManifestBody& manifest_body() const { return body_; }

  // Signs the configuration `argv` (a service command line) gives its
  // binary into `manifest_file` (the main manifest by default): runs
  // argv + --print-config, as `cloister cluster manifest` does, adds the
  // ConfigReference for `role` and re-signs. Before that process starts.
  Status PinConfig(const std::string& role, std::vector<std::string> argv,
                   const std::string& manifest_file = "manifest.bin");
  // The manifest body behind `manifest_file` as last written by PinConfig
  // (the main body for "manifest.bin").
  attestation::ManifestBody& body_for(const std::string& manifest_file);

 private:
  std::vector<std::pair<std::string, std::string>> enclaves_;
  AttestedNodeOptions options_;
  TempDir dir_;
  std::vector<crypto::PrivateKey> auditor_keys_;
  attestation::ManifestBody body_;
  std::map<std::string, attestation::ManifestBody> variants_;  // PinConfig's other files
  std::optional<Subprocess> platform_;
};

}  // namespace cloister::testing
