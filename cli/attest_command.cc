// `cloister attest ENDPOINT`: shows the quote a Cloister endpoint presents
// (measurement, role, svn, level, debug, timestamp, platform) and checks it
// against the cluster's signed manifest exactly as a client would, saying
// ACCEPTED or REFUSED with the reason in plain words. A client refused by
// an RA-TLS server only sees "Socket closed"; this is where a person finds
// out why.
//
//   cloister attest gateway
//   cloister attest gateway --export gateway.pem     # pin it from Python/Go/...
//   cloister --json attest 10.0.0.5:7443 --trust other-cluster/trust.toml
#include <iostream>

#include "attestation/quote_verifier.h"
#include "attestation/trust.h"
#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/crypto/hash.h"
#include "common/fs.h"
#include "sdk/peer_certificate.h"
#include "services/topology/service_spec.h"

namespace cloister::cli {
namespace {

namespace reason = attestation::reason;

struct AttestFlags {
  std::string endpoint;
  std::string trust;
  std::string role;
  std::string export_path;
};

// The verifier's reasons, for a person.
std::string Explain(const std::string& r) {
  static const std::map<std::string, std::string> kPlain = {
      {reason::kCertMalformed, "the endpoint's certificate could not be parsed"},
      {reason::kQuoteMissing,
       "the certificate carries no quote: this is not an attested Cloister enclave"},
      {reason::kQuoteMalformed, "the quote in the certificate is corrupt"},
      {reason::kQuoteVersion, "the quote has a version this client does not understand"},
      {reason::kChainUntrusted,
       "the quote was not signed by a platform of this cluster's attestation root "
       "(another cluster, or a forged platform)"},
      {reason::kSignatureInvalid, "the quote's signature is invalid: it was altered"},
      {reason::kPlatformIdMismatch, "the quote's platform id does not match its signing key"},
      {reason::kKeyBindingMismatch,
       "the quote was made for a different TLS key: a genuine quote replayed by another "
       "server"},
      {reason::kMeasurementUnknown,
       "the program answering is not one the auditors signed in the manifest (modified or "
       "rebuilt binary? after a rebuild run `cloister cluster manifest` and restart)"},
      {reason::kRoleNotAllowed,
       "the program is in the manifest, but not in the role expected at this endpoint"},
      {reason::kSignerMismatch, "the enclave was signed by a different auditor set"},
      {reason::kSvnTooLow, "the enclave's security version is older than allowed"},
      {reason::kConfigNotInManifest,
       "the enclave runs with a configuration (flags, database, peers, policy or cluster) "
       "that the auditors did not sign for its role"},
      {reason::kLevelTooLow, "the node runs below the cluster's minimum security level"},
      {reason::kDebugNotAllowed, "the enclave runs in debug mode, which this cluster refuses"},
      {reason::kQuoteStale, "the quote is too old (certificate not refreshed, or replayed)"},
      {reason::kQuoteFromFuture, "the quote's timestamp is in the future (clock skew?)"},
      {reason::kNonceMismatch, "the quote does not answer this connection's challenge"},
      {reason::kLaunchLogMissing, "the measured-launch log required at this level is missing"},
      {reason::kLaunchLogMismatch, "the measured-launch log does not replay to the quoted digest"},
      {reason::kLaunchEventUnknown, "the launch log holds an event with no reference value"},
  };
  auto it = kPlain.find(r);
  return it == kPlain.end() ? "refused" : it->second;
}

void RunAttest(const AttestFlags& f, const Globals& g) {
  const ClusterPaths paths = ClusterPaths::For(g.home);
  std::string address = f.endpoint;
  std::vector<std::string> roles;
  if (!f.role.empty()) roles.push_back(f.role);
  if (const topology::ServiceSpec* spec = topology::FindService(f.endpoint)) {
    auto cfg = ClusterConfig::Load(paths.cluster_toml);
    if (!cfg.ok()) FailError("attest", cfg.error());
    if (spec->is_platform())
      Fail("attest", "the platform daemon serves a Unix socket, not TLS: "
                     "use `cloister platform status --socket " + paths.platform_socket + "`");
    address = cfg->Address(f.endpoint);
    if (address.empty())
      Fail("attest", "this cluster has no address for " + f.endpoint + "; run `cloister cluster up`");
    if (roles.empty()) roles.push_back(f.endpoint);
  }
  const std::string trust_path = f.trust.empty() ? paths.trust : f.trust;
  auto trust = attestation::TrustConfig::Load(trust_path);
  if (!trust.ok()) FailError("attest", trust.error());
  if (roles.empty())  // a bare host:port: any role of the manifest
    for (const auto& e : trust->manifest.body().entries()) roles.push_back(e.name());

  auto pem = sdk::FetchPeerCertificatePem(address);
  if (!pem.ok()) FailError("attest", pem.error());
  auto cert = crypto::Certificate::FromPem(*pem);

  nlohmann::json j;
  j["endpoint"] = address;
  j["trust"] = trust_path;
  j["expected_roles"] = roles;
  std::string verdict_reason, verdict_message;
  bool accepted = false;
  if (!cert.ok()) {
    verdict_reason = reason::kCertMalformed;
    verdict_message = cert.error().message();
  } else {
    j["certificate"] = {{"subject_cn", cert->SubjectCommonName()},
                        {"not_after_unix", cert->not_after()},
                        {"sha256", HexEncode(ByteView(crypto::Sha256(cert->Der())))}};
    auto quote = attestation::ExtractQuote(*cert);
    attestation::QuoteBody body;
    if (quote.ok() && body.ParseFromString(quote->body())) {
      j["quote"] = {{"enclave_name", body.enclave_name()},
                    {"measurement", HexEncode(AsBytes(body.measurement()))},
                    {"signer", HexEncode(AsBytes(body.signer()))},
                    {"product_id", body.product_id()},
                    {"svn", body.svn()},
                    {"security_level", body.security_level()},
                    {"debug", body.debug()},
                    {"timestamp_unix_ms", body.timestamp_unix_ms()},
                    {"platform_id", HexEncode(AsBytes(body.platform_id()))},
                    {"launch_digest", HexEncode(AsBytes(body.launch_digest()))},
                    {"config_id", HexEncode(AsBytes(body.config_id()))}};
    }
    auto peer = attestation::VerifyRaTlsCertificate(
        *cert, attestation::VerifyPolicy::FromTrust(*trust, roles), attestation::NowUnixMs());
    accepted = peer.ok();
    if (!peer.ok()) {
      verdict_reason = peer.error().reason();
      verdict_message = peer.error().message();
    } else {
      j["role"] = peer->role;
    }
  }
  j["verdict"] = accepted ? "ACCEPTED" : "REFUSED";
  if (!accepted) {
    j["reason"] = verdict_reason;
    j["explanation"] = Explain(verdict_reason);
    j["detail"] = verdict_message;
  }
  if (!f.export_path.empty()) {
    // Pinning a refused certificate would make a client trust exactly the
    // server this check rejected.
    if (accepted) {
      Status st = WriteFileAtomic(f.export_path, *pem, 0644);
      if (!st.ok()) FailError("attest", st.error());
      j["exported"] = f.export_path;
    }
  }

  if (g.json) {
    PrintJson(j);
  } else {
    std::cout << "endpoint:      " << address << "\n";
    if (j.contains("quote")) {
      const auto& q = j["quote"];
      std::cout << "enclave:       " << q["enclave_name"].get<std::string>() << "\n"
                << "measurement:   " << q["measurement"].get<std::string>() << "\n"
                << "signer:        " << q["signer"].get<std::string>() << "\n"
                << "product / svn: " << q["product_id"].dump() << " / " << q["svn"].dump() << "\n"
                << "level:         " << q["security_level"].dump() << "\n"
                << "debug:         " << (q["debug"].get<bool>() ? "YES" : "no") << "\n"
                << "quoted at:     "
                << FormatUnix(q["timestamp_unix_ms"].get<int64_t>() / 1000) << "\n"
                << "platform id:   " << q["platform_id"].get<std::string>() << "\n"
                << "config id:     " << q["config_id"].get<std::string>() << "\n";
    }
    if (j.contains("certificate"))
      std::cout << "cert expires:  "
                << FormatUnix(j["certificate"]["not_after_unix"].get<int64_t>()) << "\n";
    std::cout << "expected role: ";
    for (size_t i = 0; i < roles.size(); ++i) std::cout << (i ? ", " : "") << roles[i];
    std::cout << "\n\n";
    if (accepted) {
      std::cout << "ACCEPTED: a genuine '" << j["role"].get<std::string>()
                << "' enclave of this cluster's signed manifest, on a trusted platform.\n";
    } else {
      std::cout << "REFUSED (" << verdict_reason << "): " << Explain(verdict_reason) << ".\n"
                << "  detail: " << verdict_message << "\n";
    }
    if (j.contains("exported"))
      std::cout << "Exported the certificate to " << f.export_path
                << " (it is re-issued on restart and every few minutes; re-export then).\n";
  }
  if (!accepted && !f.export_path.empty())
    Fail("attest", "refusing to export the certificate of a REFUSED endpoint");
  if (!accepted) throw CLI::RuntimeError(kExitFailure);
}

CommandRegistrar reg("attest", [](CLI::App& app, Globals& g) {
  auto flags = std::make_shared<AttestFlags>();
  auto* attest = app.add_subcommand(
      "attest", "show an endpoint's quote and check it against the signed manifest");
  attest->add_option("endpoint", flags->endpoint,
                     "gateway | auth | exec (this cluster's) or host:port")
      ->required();
  attest->add_option("--trust", flags->trust, "trust.toml (default: the cluster's)");
  attest->add_option("--role", flags->role,
                     "role the endpoint must have (default: the named service; any for host:port)");
  attest->add_option("--export", flags->export_path,
                     "write the endpoint's certificate (PEM) here if ACCEPTED, for pinning");
  attest->add_flag("--json", g.json, "machine-readable output");
  attest->callback([flags, &g] { RunAttest(*flags, g); });
});

}  // namespace
}  // namespace cloister::cli
