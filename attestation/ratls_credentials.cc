// gRPC credentials for mutual RA-TLS; see ratls_credentials.h.
#include "attestation/ratls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>

#include "attestation/ratls.h"
#include "common/logging.h"

namespace cloister::attestation {
namespace {

using grpc::experimental::TlsCustomVerificationCheckRequest;

// The full RA-TLS check of a peer certificate, or the cache's verdict on
// exactly these bytes and roles. `refuse` makes the error of an unparsable
// certificate (the handshake reports PermissionDenied, a call Unauthenticated).
Result<VerifiedPeer> VerifyCached(PeerVerdictCache& cache, std::string_view pem,
                                  const TrustConfig& trust, const std::vector<std::string>& roles,
                                  int64_t now_ms, Error (*refuse)(std::string, std::string)) {
  if (auto hit = cache.Find(pem, roles, now_ms)) return *std::move(hit);
  auto cert = crypto::Certificate::FromPem(pem);
  if (!cert.ok()) return refuse("peer certificate does not parse", reason::kCertMalformed);
  const VerifyPolicy policy = VerifyPolicy::FromTrust(trust, roles);
  CLOISTER_ASSIGN_OR_RETURN(VerifiedPeer peer, VerifyRaTlsCertificate(*cert, policy, now_ms));
  cache.Insert(pem, roles, *cert, policy, peer, now_ms);
  return peer;
}

// Runs on gRPC's handshake threads for every new connection.
class RaTlsVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  RaTlsVerifier(std::shared_ptr<const TrustConfig> trust, std::vector<std::string> roles,
                std::string side, std::shared_ptr<VerifyObserver> observer,
                std::shared_ptr<std::atomic<uint64_t>> accepted,
                std::shared_ptr<std::atomic<uint64_t>> refused,
                std::shared_ptr<PeerVerdictCache> cache)
      : trust_(std::move(trust)), roles_(std::move(roles)), side_(std::move(side)),
        observer_(std::move(observer)), accepted_(std::move(accepted)),
        refused_(std::move(refused)), cache_(std::move(cache)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    Result<VerifiedPeer> peer = Check(std::string_view(pem.data(), pem.size()));
    VerifyEvent ev;
    ev.side = side_;
    if (peer.ok()) {
      ev.accepted = true;
      ev.peer_role = peer->role;
      accepted_->fetch_add(1);
      *sync_status = grpc::Status::OK;
      LOG_DEBUG("ra-tls peer accepted", {{"side", side_}, {"role", peer->role}});
    } else {
      ev.reason = peer.error().reason();
      ev.message = peer.error().message();
      refused_->fetch_add(1);
      // The refused side only sees "Socket closed"; this log line is where
      // an operator learns why.
      LOG_WARN("ra-tls peer refused",
               {{"side", side_}, {"reason", ev.reason}, {"detail", ev.message}});
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  "attestation refused: " + peer.error().ToString());
    }
    if (observer_ && *observer_) (*observer_)(ev);
    return true;  // synchronous
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  Result<VerifiedPeer> Check(std::string_view pem) {
    if (pem.empty())
      return PermissionDenied("peer presented no certificate", reason::kCertMalformed);
    return VerifyCached(*cache_, pem, *trust_, roles_, NowUnixMs(), PermissionDenied);
  }

  std::shared_ptr<const TrustConfig> trust_;
  std::vector<std::string> roles_;
  std::string side_;
  std::shared_ptr<VerifyObserver> observer_;
  std::shared_ptr<std::atomic<uint64_t>> accepted_;
  std::shared_ptr<std::atomic<uint64_t>> refused_;
  std::shared_ptr<PeerVerdictCache> cache_;
};

}  // namespace

RaTlsCredentials::RaTlsCredentials(Key, std::shared_ptr<QuoteProvider> provider,
                                   std::shared_ptr<const TrustConfig> trust, RaTlsOptions options,
                                   crypto::PrivateKey key,
                                   std::unique_ptr<sys::CredentialFiles> files)
    : provider_(std::move(provider)), trust_(std::move(trust)), options_(std::move(options)),
      key_(std::move(key)), files_(std::move(files)),
      observer_(std::make_shared<VerifyObserver>()) {}

Result<std::shared_ptr<RaTlsCredentials>> RaTlsCredentials::Create(
    std::shared_ptr<QuoteProvider> provider, std::shared_ptr<const TrustConfig> trust,
    RaTlsOptions options) {
  if (!provider || !trust) return InvalidArgument("RA-TLS needs a quote provider and trust config");
  if (options.refresh_period_s != 0 && options.refresh_period_s * 2 > options.cert_validity_s)
    return InvalidArgument("RA-TLS refresh period must be at most half the certificate validity");
  // A fresh key per process start, generated in enclave memory.
  CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                            crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
  SecretBytes key_pem = key.Pem();
  CLOISTER_ASSIGN_OR_RETURN(auto files, sys::CredentialFiles::Create(key_pem));
  auto creds = std::make_shared<RaTlsCredentials>(Key(), std::move(provider), std::move(trust),
                                                  std::move(options), std::move(key),
                                                  std::move(files));
  CLOISTER_RETURN_IF_ERROR(creds->Refresh());
  creds->grpc_provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      creds->files_->key_path(), creds->files_->cert_path(), creds->options_.watch_interval_s);
  if (creds->options_.refresh_period_s > 0)
    creds->refresher_ = std::thread([c = creds.get()] { c->RefreshLoop(); });
  return creds;
}

RaTlsCredentials::~RaTlsCredentials() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

Status RaTlsCredentials::Refresh() {
  CLOISTER_ASSIGN_OR_RETURN(
      crypto::Certificate cert,
      options_.issue_for_testing
          ? options_.issue_for_testing(*provider_, key_)
          : IssueRaTlsCertificate(*provider_, key_, options_.common_name,
                                  options_.cert_validity_s, {}));
  CLOISTER_RETURN_IF_ERROR(files_->UpdateCertificate(cert.Pem()));
  std::lock_guard<std::mutex> lock(mu_);
  cert_ = std::move(cert);
  return OkStatus();
}

void RaTlsCredentials::RefreshLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::seconds(options_.refresh_period_s),
                            [this] { return stop_; })) {
    lock.unlock();
    if (auto st = Refresh(); !st.ok())
      LOG_ERROR("ra-tls certificate refresh failed", {{"error", st.ToString()}});
    lock.lock();
  }
}

crypto::Certificate RaTlsCredentials::current_certificate() const {
  std::lock_guard<std::mutex> lock(mu_);
  return *cert_;
}

void RaTlsCredentials::SetObserver(VerifyObserver observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::make_shared<VerifyObserver>(std::move(observer));
}

std::shared_ptr<grpc::ServerCredentials> RaTlsCredentials::ServerCredentials(
    std::vector<std::string> allowed_client_roles) {
  grpc::experimental::TlsServerCredentialsOptions opts(grpc_provider_);
  opts.watch_identity_key_cert_pairs();
  // Require a client certificate: a client without one fails the TLS
  // handshake itself (TLS 1.3 alert "certificate required", logged by gRPC
  // as a failed handshake) and never reaches gRPC's peer check, let alone a
  // handler. "Don't verify" only switches off the CA-chain check, which
  // RaTlsVerifier replaces. PeerOf() still refuses a call without a
  // certificate, as defence in depth.
  opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  std::shared_ptr<VerifyObserver> obs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    obs = observer_;
  }
  opts.set_certificate_verifier(grpc::experimental::ExternalCertificateVerifier::Create<RaTlsVerifier>(
      trust_, std::move(allowed_client_roles), "server", obs, accepted_, refused_, verdicts_));
  return grpc::experimental::TlsServerCredentials(opts);
}

std::shared_ptr<grpc::ChannelCredentials> RaTlsCredentials::ChannelCredentials(
    std::vector<std::string> allowed_server_roles) {
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(grpc_provider_);
  opts.watch_identity_key_cert_pairs();
  // The quote replaces the CA chain and hostname: both checks are done by
  // RaTlsVerifier instead.
  opts.set_verify_server_certs(false);
  opts.set_check_call_host(false);
  std::shared_ptr<VerifyObserver> obs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    obs = observer_;
  }
  opts.set_certificate_verifier(grpc::experimental::ExternalCertificateVerifier::Create<RaTlsVerifier>(
      trust_, std::move(allowed_server_roles), "client", obs, accepted_, refused_, verdicts_));
  return grpc::experimental::TlsCredentials(opts);
}

std::shared_ptr<grpc::ServerCredentials> RaTlsCredentials::PublicServerCredentials() {
  grpc::experimental::TlsServerCredentialsOptions opts(grpc_provider_);
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(opts);
}

std::shared_ptr<grpc::ChannelCredentials> AttestingChannelCredentials(
    std::shared_ptr<const TrustConfig> trust, std::vector<std::string> allowed_server_roles,
    std::function<void(const VerifyEvent&)> observer) {
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_verify_server_certs(false);
  opts.set_check_call_host(false);
  auto obs = std::make_shared<VerifyObserver>(std::move(observer));
  opts.set_certificate_verifier(grpc::experimental::ExternalCertificateVerifier::Create<RaTlsVerifier>(
      std::move(trust), std::move(allowed_server_roles), "client", obs,
      std::make_shared<std::atomic<uint64_t>>(0), std::make_shared<std::atomic<uint64_t>>(0),
      std::make_shared<PeerVerdictCache>()));
  return grpc::experimental::TlsCredentials(opts);
}

Result<VerifiedPeer> RaTlsCredentials::PeerOf(const grpc::ServerContext& ctx,
                                              const std::vector<std::string>& allowed_roles) {
  auto auth = ctx.auth_context();
  if (!auth) return Unauthenticated("call has no TLS peer", reason::kCertMalformed);
  // Defence in depth: our credentials never resume a session (no client
  // session cache; see RaTlsIntegrationTest.EveryReconnect…), but a call
  // on a resumed session would rest on a handshake that skipped the
  // certificate exchange, so it is refused outright.
  for (const auto& v : auth->FindPropertyValues("ssl_session_reused"))
    if (std::string_view(v.data(), v.size()) == "true")
      return Unauthenticated("TLS session was resumed; attested channels need a full handshake",
                             reason::kSessionResumed);
  auto pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) return Unauthenticated("peer presented no certificate", reason::kCertMalformed);
  const std::string_view pem(pems.front().data(), pems.front().size());
  return VerifyCached(*verdicts_, pem, *trust_, allowed_roles, NowUnixMs(), Unauthenticated);
}

}  // namespace cloister::attestation
