// Mutual attestation-bound TLS for gRPC. One RaTlsCredentials per enclave
// holds its in-memory key and current RA-TLS certificate (re-quoted on a
// timer) and makes server/channel credentials whose ExternalCertificateVerifier
// runs the full quote verifier plus the expected-role check on every
// handshake, on both sides (a certificate accepted in the last seconds is
// not re-verified: peer_verdict_cache.h). gRPC's default chain check is switched off
// because an RA-TLS certificate is self-signed: the quote IS the chain.
//
//   auto creds = *RaTlsCredentials::Create(provider, trust, {.common_name = "gateway"});
//   builder.AddListeningPort(addr, creds->ServerCredentials({"gateway"}));
//   auto ch = grpc::CreateChannel(addr, creds->ChannelCredentials({"auth"}));
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "attestation/peer_verdict_cache.h"
#include "attestation/quote_provider.h"
#include "attestation/quote_verifier.h"
#include "attestation/sys/credential_files.h"
#include "attestation/trust.h"

namespace cloister::attestation {

struct RaTlsOptions {
  std::string common_name = "cloister-enclave";
  int64_t cert_validity_s = 3600;
  // Re-quote period; must be well below the validity and the peers'
  // quote_max_age_s. 0 disables the timer (Refresh() by hand).
  int64_t refresh_period_s = 300;
  // How often gRPC re-reads the credential files.
  unsigned watch_interval_s = 1;
  // Test-only: replaces certificate issuance so attack tests can present
  // forged certificates from a real process. Never set in services.
  std::function<Result<crypto::Certificate>(QuoteProvider&, const crypto::PrivateKey&)>
      issue_for_testing;
};

// One verification outcome, for logs, audit and tests.
// Channel credentials for a client that is NOT an enclave (SDK, CLI): no
// client certificate, but the server's RA-TLS certificate is verified
// (quote, manifest role in `allowed_server_roles`, freshness) before any
// byte of a request is sent.
std::shared_ptr<grpc::ChannelCredentials> AttestingChannelCredentials(
    std::shared_ptr<const TrustConfig> trust, std::vector<std::string> allowed_server_roles,
    std::function<void(const struct VerifyEvent&)> observer = nullptr);

struct VerifyEvent {
  bool accepted = false;
  std::string side;       // "server" (checking a client) or "client"
  std::string peer_role;  // when accepted
  std::string reason;     // when refused
  std::string message;    // when refused
};
using VerifyObserver = std::function<void(const VerifyEvent&)>;

class RaTlsCredentials {
 public:
  static Result<std::shared_ptr<RaTlsCredentials>> Create(
      std::shared_ptr<QuoteProvider> provider, std::shared_ptr<const TrustConfig> trust,
      RaTlsOptions options);
  ~RaTlsCredentials();

  // Accepts only clients whose quote verifies and whose manifest role is in
  // `allowed_client_roles` (the service's inbound table).
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
      std::vector<std::string> allowed_client_roles);
  // Accepts only servers of `allowed_server_roles`.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      std::vector<std::string> allowed_server_roles);

  // Server credentials for a PUBLIC port (the gateway's): presents the
  // RA-TLS certificate but does not ask clients for one — clients are
  // people and scripts, authenticated by token at the gateway.
  std::shared_ptr<grpc::ServerCredentials> PublicServerCredentials();

  // Signs with this enclave's attested key (ECDSA P-256, SHA-256); a peer
  // verifies with the public key of our RA-TLS certificate (access grants).
  Result<Bytes> SignWithIdentityKey(ByteView data) const { return key_.Sign(data); }

  // Re-quotes and publishes a fresh certificate; new handshakes use it,
  // established connections and calls in flight are unaffected.
  Status Refresh();
  crypto::Certificate current_certificate() const;
  const TrustConfig& trust() const { return *trust_; }

  // Called for every verification on credentials made after this call.
  void SetObserver(VerifyObserver observer);
  uint64_t accepted_count() const { return accepted_->load(); }
  uint64_t refused_count() const { return refused_->load(); }

  // The verified identity of the peer of a server call: re-verifies the
  // certificate from the call's auth context (through the verdict cache).
  // A call on a resumed TLS session is refused (TLS_SESSION_RESUMED).
  Result<VerifiedPeer> PeerOf(const grpc::ServerContext& ctx,
                              const std::vector<std::string>& allowed_roles);

  struct Key {
    explicit Key() = default;
  };
  RaTlsCredentials(Key, std::shared_ptr<QuoteProvider> provider,
                   std::shared_ptr<const TrustConfig> trust, RaTlsOptions options,
                   crypto::PrivateKey key, std::unique_ptr<sys::CredentialFiles> files);

 private:
  void RefreshLoop();
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider();

  std::shared_ptr<QuoteProvider> provider_;
  std::shared_ptr<const TrustConfig> trust_;
  RaTlsOptions options_;
  crypto::PrivateKey key_;
  std::unique_ptr<sys::CredentialFiles> files_;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> grpc_provider_;

  mutable std::mutex mu_;
  std::optional<crypto::Certificate> cert_;  // guarded by mu_
  std::shared_ptr<VerifyObserver> observer_;  // guarded by mu_
  std::shared_ptr<std::atomic<uint64_t>> accepted_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<uint64_t>> refused_ = std::make_shared<std::atomic<uint64_t>>(0);

  // Accepted peer certificates, shared by the handshake verifiers of every
  // credential made here and by PeerOf (peer_verdict_cache.h).
  std::shared_ptr<PeerVerdictCache> verdicts_ = std::make_shared<PeerVerdictCache>();

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread refresher_;
};

}  // namespace cloister::attestation
