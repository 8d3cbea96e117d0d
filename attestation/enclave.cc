// The per-service enclave bootstrap; see enclave.h.
#include "attestation/enclave.h"

#include "common/fs.h"
#include "common/hardening.h"
#include "common/logging.h"

namespace cloister::attestation {
namespace {

// Adapts the platform session to the QuoteProvider interface.
class PlatformQuoteProvider : public QuoteProvider {
 public:
  PlatformQuoteProvider(std::shared_ptr<PlatformClient> client, std::string config_text)
      : client_(std::move(client)), config_text_(std::move(config_text)) {}
  Result<Quote> GetQuote(ByteView report_data, ByteView nonce) override {
    return client_->GetQuote(report_data, nonce);
  }
  Result<LaunchLog> ReadLaunchLog() override { return client_->ReadLog(); }
  std::string ConfigText() override { return config_text_; }

 private:
  std::shared_ptr<PlatformClient> client_;
  std::string config_text_;
};

}  // namespace

namespace {
// Level 1's grant key: exactly 32 bytes in a file nobody but the owner
// (the service account) can read.
Result<SecretBytes> LoadClusterSecret(const std::string& path) {
  if (auto st = CheckPrivateFile(path); !st.ok())
    return FailedPrecondition("cluster secret: " + st.error().message(), kClusterSecretInvalid);
  auto data = ReadFile(path, kClusterSecretBytes + 1);
  if (!data.ok())
    return FailedPrecondition("cluster secret: " + data.error().message(), kClusterSecretInvalid);
  if (data->size() != kClusterSecretBytes)
    return FailedPrecondition("cluster secret " + path + " must hold exactly 32 bytes",
                              kClusterSecretInvalid);
  SecretBytes secret(AsBytes(*data));
  std::fill(data->begin(), data->end(), '\0');
  return secret;
}
}  // namespace

Enclave::Enclave(Key, EnclaveOptions options, std::shared_ptr<const TrustConfig> trust,
                 std::shared_ptr<PlatformClient> platform, IdentityResponse identity,
                 EnclaveConfig config)
    : options_(std::move(options)), trust_(std::move(trust)), platform_(std::move(platform)),
      identity_(std::move(identity)), config_(std::move(config)) {}

Result<std::unique_ptr<Enclave>> Enclave::Start(EnclaveOptions options) {
  auto trust_r = TrustConfig::Load(options.trust_path);
  if (!trust_r.ok()) return trust_r.error().WithContext("enclave '" + options.role + "'");
  auto trust = std::make_shared<const TrustConfig>(*std::move(trust_r));

  // Harden BEFORE the first platform contact (issue 9): from then on no
  // non-root process can attach a debugger or read our memory, and the
  // platform (CAP_SYS_PTRACE) re-inspects us on every quote and key
  // request anyway. A tracer that is already attached is refused here and,
  // independently, by the platform (MEASURE_TRACED). Level 1 does not
  // harden: it is the development mode, whose daemon may run without
  // CAP_SYS_PTRACE and can then only measure dumpable processes.
  if (trust->security_level >= 2) {
    if (auto st = ApplyAntiDebug(); !st.ok()) return st.error().WithContext("anti-debug hardening");
  }
  auto client_r = PlatformClient::Connect(trust->platform_socket);
  if (!client_r.ok())
    return client_r.error().WithContext("connect to platform at " + trust->platform_socket);
  auto client = std::make_shared<PlatformClient>(*std::move(client_r));
  CLOISTER_ASSIGN_OR_RETURN(IdentityResponse id, client->Identity());

  const ManifestEntry* entry = trust->manifest.FindByMeasurement(AsBytes(id.measurement()));
  if (!options.skip_self_check_for_testing) {
    if (entry == nullptr)
      return FailedPrecondition("this binary (measurement " +
                                    HexEncode(AsBytes(id.measurement())).substr(0, 16) +
                                    ") is not in the signed manifest",
                                kEnclaveIdentityMismatch);
    if (entry->name() != options.role)
      return FailedPrecondition("this binary is enclave '" + entry->name() +
                                    "' in the manifest, not '" + options.role + "'",
                                kEnclaveIdentityMismatch);
    // An old release the auditors have retired (a known-vulnerable svn)
    // does not run, whatever data it finds.
    if (const uint32_t min = trust->manifest.MinSvn(entry->name()); entry->svn() < min)
      return FailedPrecondition("this binary is svn " + std::to_string(entry->svn()) +
                                    " of '" + entry->name() + "'; the manifest requires svn >= " +
                                    std::to_string(min),
                                kEnclaveSvnTooLow);
  }
  // The configuration this process runs with: its own settings plus what
  // every enclave's configuration holds (role, cluster, trust).
  EnclaveConfig config = options.config;
  config.Merge(BaseConfig(*trust, options.role));
  const crypto::Digest config_id = config.Id();
  if (!options.skip_self_check_for_testing) {
    // Our peers judge us by the platform's manifest (its signer is in our
    // quotes); verifying them with a manifest of other auditors would let
    // an operator hand a genuine binary a trust of their own.
    if (!ConstantTimeEqual(AsBytes(id.signer()), trust->auditors.SignerId()))
      return FailedPrecondition("trust.toml names other auditors than the ones the platform's "
                                "manifest is signed by",
                                kEnclaveIdentityMismatch);
    // A genuine binary started with flags, a database, peers or a cluster
    // the auditors did not sign refuses to run at all (its peers would
    // refuse it too: the platform quotes the id declared below).
    if (auto st = trust->manifest.CheckConfig(*entry, config_id, config.Text()); !st.ok())
      return FailedPrecondition("this enclave's configuration is not signed: " +
                                    st.error().message() +
                                    " (after changing the cluster's settings, re-sign the "
                                    "manifest: `cloister cluster manifest`)",
                                kConfigNotInManifest);
  }
  // The platform must chain to the root we trust, or our own quotes would
  // be refused by every peer: fail early with a clear message.
  auto platform_root = crypto::Certificate::FromDer(AsBytes(id.attestation_root_der()));
  if (!platform_root.ok() || platform_root->Der() != trust->attestation_root.Der())
    return FailedPrecondition("the platform daemon chains to a different attestation root "
                              "than trust.toml names",
                              kEnclaveIdentityMismatch);

  crypto::Digest self{};
  std::copy_n(id.measurement().begin(), std::min<size_t>(32, id.measurement().size()), self.begin());
  auto declared = client->SetConfig(config_id);
  if (!declared.ok() && !options.skip_self_check_for_testing)
    return declared.error().WithContext("declare configuration to the platform");
  auto ext = client->Extend("enclave.start", self, "start of " + options.role);
  // The platform lets only manifest binaries extend the log; a test binary
  // deliberately outside the manifest carries on so its peers can refuse it.
  if (!ext.ok() && !options.skip_self_check_for_testing)
    return ext.error().WithContext("extend launch log");

  const std::string config_text = config.Text();
  auto enclave =
      std::make_unique<Enclave>(Key(), options, trust, client, std::move(id), std::move(config));
  if (trust->security_level >= 2) {
    RaTlsOptions ro = options.ratls;
    if (ro.common_name == "cloister-enclave") ro.common_name = options.role;
    if (trust->security_level >= 5) {
      // Short-lived certificates and frequent re-attestation at level 5.
      ro.cert_validity_s = std::min<int64_t>(ro.cert_validity_s, 600);
      ro.refresh_period_s = std::min<int64_t>(ro.refresh_period_s == 0 ? 60 : ro.refresh_period_s, 60);
    }
    auto provider = std::make_shared<PlatformQuoteProvider>(client, config_text);
    CLOISTER_ASSIGN_OR_RETURN(enclave->ratls_, RaTlsCredentials::Create(provider, trust, ro));
  } else {
    LOG_WARN("SECURITY LEVEL 1: no attestation, plaintext gRPC on loopback only",
             {{"role", options.role}});
    if (!options.cluster_secret_path.empty()) {
      CLOISTER_ASSIGN_OR_RETURN(enclave->cluster_secret_,
                                LoadClusterSecret(options.cluster_secret_path));
    }
  }
  LOG_INFO("enclave started", {{"role", options.role},
                               {"measurement", HexEncode(AsBytes(enclave->identity_.measurement())).substr(0, 16)},
                               {"config", HexEncode(config_id).substr(0, 16)},
                               {"level", trust->security_level}});
  return enclave;
}

std::shared_ptr<grpc::ServerCredentials> Enclave::ServerCredentials(
    std::vector<std::string> allowed_client_roles) {
  if (!ratls_) return grpc::InsecureServerCredentials();
  return ratls_->ServerCredentials(std::move(allowed_client_roles));
}

std::shared_ptr<grpc::ChannelCredentials> Enclave::ChannelCredentials(
    std::vector<std::string> allowed_server_roles) {
  if (!ratls_) return grpc::InsecureChannelCredentials();
  return ratls_->ChannelCredentials(std::move(allowed_server_roles));
}

Result<VerifiedPeer> Enclave::PeerOf(const grpc::ServerContext& ctx,
                                     const std::vector<std::string>& allowed_roles) {
  if (!ratls_) {
    VerifiedPeer p;
    p.role = "unattested";
    return p;
  }
  return ratls_->PeerOf(ctx, allowed_roles);
}

}  // namespace cloister::attestation
