// Creation and loading of the platform's keys and device secret; see
// platform_state.h.
#include "attestation/platform/platform_state.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "common/fs.h"

namespace cloister::attestation {
namespace {

constexpr int64_t kDay = 24 * 3600;

std::string Hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "cloister-node";
  return buf;
}

Error StateError(const std::string& msg) { return FailedPrecondition(msg, kPlatformStateInvalid); }

}  // namespace

PlatformPaths PlatformPaths::For(const std::string& dir) {
  PlatformPaths p;
  p.dir = dir;
  p.ca_dir = dir + "/ca";
  p.root_key = p.ca_dir + "/root.key";
  p.root_cert = p.ca_dir + "/root.pem";
  p.platform_dir = dir + "/platform";
  p.device_secret = p.platform_dir + "/device-secret";
  p.attestation_key = p.platform_dir + "/attestation.key";
  p.attestation_cert = p.platform_dir + "/attestation.pem";
  p.platform_root_cert = p.platform_dir + "/root.pem";
  p.counters = p.platform_dir + "/counters";
  return p;
}

Result<PlatformInitResult> InitPlatform(const std::string& dir, const PlatformInitOptions& options) {
  if (dir.empty()) return InvalidArgument("platform directory is empty");
  PlatformInitResult out;
  out.paths = PlatformPaths::For(dir);
  const PlatformPaths& p = out.paths;
  const std::string files[] = {p.root_key, p.root_cert, p.device_secret, p.attestation_key,
                               p.attestation_cert, p.platform_root_cert};
  if (!options.force) {
    for (const auto& f : files)
      if (FileExists(f))
        return AlreadyExists(f + " exists; refusing to overwrite platform state (use --force; "
                                 "this destroys all data sealed on this node)",
                             kPlatformAlreadyInitialized);
  }
  CLOISTER_RETURN_IF_ERROR(MakeDirs(p.ca_dir, 0700));
  CLOISTER_RETURN_IF_ERROR(MakeDirs(p.platform_dir, 0700));

  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey root_key,
                            crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
  crypto::CertOptions root_opts;
  root_opts.common_name = "Cloister Attestation Root CA";
  root_opts.organization = "Cloister";
  root_opts.not_after = now + options.root_validity_days * kDay;
  root_opts.is_ca = true;
  CLOISTER_ASSIGN_OR_RETURN(crypto::Certificate root,
                            crypto::Certificate::Create(root_opts, root_key.public_key(), root_key,
                                                        nullptr));

  CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey att_key,
                            crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
  crypto::CertOptions att_opts;
  att_opts.common_name = options.node_name.empty() ? Hostname() : options.node_name;
  att_opts.organization = "Cloister attestation key";
  att_opts.not_after = now + options.attestation_validity_days * kDay;
  att_opts.is_ca = false;  // CA:FALSE, keyUsage digitalSignature (x509.cc)
  CLOISTER_ASSIGN_OR_RETURN(crypto::Certificate att_cert,
                            crypto::Certificate::Create(att_opts, att_key.public_key(), root_key,
                                                        &root));

  SecretBytes device_secret = SecretBytes::Random(kDeviceSecretSize);

  // Secrets first: a crash leaves no certificate pointing at a missing key.
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.root_key, root_key.Pem().view(), 0600));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.device_secret, device_secret.view(), 0600));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.attestation_key, att_key.Pem().view(), 0600));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.root_cert, root.Pem(), 0644));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.platform_root_cert, root.Pem(), 0644));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.attestation_cert, att_cert.Pem(), 0644));
  if (options.force && ::unlink(p.counters.c_str()) != 0 && errno != ENOENT)
    return ErrnoError(errno, "remove " + p.counters);
  out.created.assign(std::begin(files), std::end(files));
  out.platform_id_hex = HexEncode(crypto::Sha256(att_key.public_key().SpkiDer()));
  out.root_fingerprint_hex = HexEncode(crypto::Sha256(root.Der()));
  return out;
}

Result<PlatformState> LoadPlatformState(const std::string& dir) {
  const PlatformPaths p = PlatformPaths::For(dir);
  CLOISTER_RETURN_IF_ERROR(CheckPrivateFile(p.device_secret));
  CLOISTER_RETURN_IF_ERROR(CheckPrivateFile(p.attestation_key));

  CLOISTER_ASSIGN_OR_RETURN(std::string secret, ReadFile(p.device_secret, 4096));
  if (secret.size() != kDeviceSecretSize) {
    Cleanse(secret);
    return StateError(p.device_secret + " must hold exactly 32 bytes");
  }
  SecretBytes device_secret(AsBytes(secret));
  Cleanse(secret);

  CLOISTER_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(p.attestation_key, 1 << 16));
  auto key = crypto::PrivateKey::FromPem(key_pem);
  Cleanse(key_pem);
  if (!key.ok()) return StateError(p.attestation_key + ": " + key.error().message());
  if (key->type() != crypto::KeyType::kEcdsaP256)
    return StateError(p.attestation_key + " is not an ECDSA P-256 key");

  CLOISTER_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(p.attestation_cert, 1 << 16));
  auto cert = crypto::Certificate::FromPem(cert_pem);
  if (!cert.ok()) return StateError(p.attestation_cert + ": " + cert.error().message());
  CLOISTER_ASSIGN_OR_RETURN(std::string root_pem, ReadFile(p.platform_root_cert, 1 << 16));
  auto root = crypto::Certificate::FromPem(root_pem);
  if (!root.ok()) return StateError(p.platform_root_cert + ": " + root.error().message());

  const Bytes spki = key->public_key().SpkiDer();
  if (cert->public_key().SpkiDer() != spki)
    return StateError(p.attestation_cert + " does not certify " + p.attestation_key);
  if (cert->is_ca()) return StateError(p.attestation_cert + " must not be a CA certificate");
  Status chain = crypto::VerifyChain(*cert, {}, *root, static_cast<int64_t>(std::time(nullptr)));
  if (!chain.ok())
    return StateError(p.attestation_cert + " does not chain to " + p.platform_root_cert + ": " +
                      chain.error().message());

  return PlatformState{std::move(device_secret), *std::move(key), *std::move(cert),
                       *std::move(root), crypto::Sha256(spki)};
}

}  // namespace cloister::attestation
