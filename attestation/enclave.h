// Enclave: what every Cloister service creates first thing in main(). It
//   1. loads trust.toml and verifies the signed manifest (refuses to run on an
//      unsigned, tampered or under-signed one),
//   2. applies anti-debug hardening (level ≥ 2) BEFORE it first talks to
//      the platform,
//   3. opens its platform session (measured by the kernel-reported pid at
//      connect, re-inspected on every quote and key request) and checks the
//      platform measured it as the role it claims to be, at an svn not below
//      the manifest's minimum for that role (ENCLAVE_SVN_TOO_LOW),
//   4. checks that its configuration (its flags, cluster and trust, as the
//      canonical text of enclave_config.h) is one the manifest signs for
//      its role (CONFIG_NOT_IN_MANIFEST) and that trust.toml's auditors
//      are the ones the platform's manifest is signed by, then declares
//      the config id to the platform, which puts it in every quote, and
//      records "enclave.start" in its session's measured-launch log (a
//      session may extend and declare only until its first quote),
//   5. makes its RA-TLS credentials (level ≥ 2; level 1 is plaintext on
//      loopback only, with a loud warning),
//   6. at level 1 only, loads the per-cluster secret (`cluster_secret_path`,
//      32 bytes, mode 0600) that stands in for the attested gateway key:
//      the gateway MACs its grants with it and services check the MAC, so
//      a local process that cannot read the file cannot forge a grant.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto enclave, Enclave::Start({.role = "auth", .trust_path = p}));
//   builder.AddListeningPort(addr, enclave->ServerCredentials({"gateway"}));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attestation/enclave_config.h"
#include "attestation/platform/platform_client.h"
#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/secret.h"

namespace cloister::attestation {

inline constexpr const char* kEnclaveIdentityMismatch = "ENCLAVE_IDENTITY_MISMATCH";
inline constexpr const char* kEnclaveSvnTooLow = "ENCLAVE_SVN_TOO_LOW";
inline constexpr const char* kClusterSecretInvalid = "CLUSTER_SECRET_INVALID";
inline constexpr size_t kClusterSecretBytes = 32;

struct EnclaveOptions {
  std::string role;        // this binary's manifest name
  std::string trust_path;  // trust.toml
  RaTlsOptions ratls;
  // The enclave's own settings (ServiceRunner: every security-relevant
  // flag). Start adds BaseConfig(trust, role), which wins on a clash.
  EnclaveConfig config;
  // Level 1: the cluster secret file (see above). Ignored from level 2,
  // where grants are signed by the attested gateway key instead.
  std::string cluster_secret_path;
  // Test-only: let a binary that is not (or no longer) in the manifest
  // start anyway, so tests can show that its PEERS refuse it. An attacker's
  // modified binary would skip the self-check too; peers never rely on it.
  bool skip_self_check_for_testing = false;
};

class Enclave {
 public:
  static Result<std::unique_ptr<Enclave>> Start(EnclaveOptions options);

  const TrustConfig& trust() const { return *trust_; }
  std::shared_ptr<const TrustConfig> shared_trust() const { return trust_; }
  int security_level() const { return trust_->security_level; }
  const std::string& role() const { return options_.role; }
  PlatformClient& platform() { return *platform_; }
  const IdentityResponse& identity() const { return identity_; }
  // The configuration whose id every quote of this enclave carries.
  const EnclaveConfig& config() const { return config_; }
  // Null at security level 1.
  RaTlsCredentials* ratls() { return ratls_.get(); }
  // Level 1 only, and only if a secret file was given; null otherwise.
  const SecretBytes* cluster_secret() const { return cluster_secret_ ? &*cluster_secret_ : nullptr; }

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
      std::vector<std::string> allowed_client_roles);
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      std::vector<std::string> allowed_server_roles);

  // The verified peer of a server call (level 1: an unattested peer whose
  // role is reported as "unattested").
  Result<VerifiedPeer> PeerOf(const grpc::ServerContext& ctx,
                              const std::vector<std::string>& allowed_roles);

  struct Key {
    explicit Key() = default;
  };
  Enclave(Key, EnclaveOptions options, std::shared_ptr<const TrustConfig> trust,
          std::shared_ptr<PlatformClient> platform, IdentityResponse identity,
          EnclaveConfig config);

 private:
  EnclaveOptions options_;
  std::shared_ptr<const TrustConfig> trust_;
  std::shared_ptr<PlatformClient> platform_;
  IdentityResponse identity_;
  EnclaveConfig config_;
  std::shared_ptr<RaTlsCredentials> ratls_;
  std::optional<SecretBytes> cluster_secret_;
};

}  // namespace cloister::attestation
