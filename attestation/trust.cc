// Loads trust.toml: attestation root, auditors, manifest, cluster policy.
#include "attestation/trust.h"

#include "common/config.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {
std::string Resolve(const std::string& base_file, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  auto pos = base_file.rfind('/');
  return pos == std::string::npos ? p : base_file.substr(0, pos + 1) + p;
}
}  // namespace

Result<TrustConfig> TrustConfig::Load(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Load(path));
  CLOISTER_RETURN_IF_ERROR(cfg.CheckKnownKeys(
      {"attestation.root_ca", "attestation.manifest", "attestation.auditor_keys",
       "attestation.auditor_threshold", "attestation.security_level", "attestation.allow_debug",
       "attestation.quote_max_age_s", "attestation.platform_socket"}));
  CLOISTER_ASSIGN_OR_RETURN(std::string root_path, cfg.RequireString("attestation.root_ca"));
  CLOISTER_ASSIGN_OR_RETURN(std::string manifest_path, cfg.RequireString("attestation.manifest"));
  CLOISTER_ASSIGN_OR_RETURN(auto key_paths, cfg.GetStringList("attestation.auditor_keys"));
  if (key_paths.empty())
    return InvalidArgument(path + ": key 'attestation.auditor_keys': at least one key required",
                           "CONFIG_INVALID");
  CLOISTER_ASSIGN_OR_RETURN(int64_t threshold,
                            cfg.GetInt("attestation.auditor_threshold", 1, 1,
                                       static_cast<int64_t>(key_paths.size())));
  CLOISTER_ASSIGN_OR_RETURN(int64_t level, cfg.GetInt("attestation.security_level", 2, 1, 5));
  CLOISTER_ASSIGN_OR_RETURN(bool allow_debug, cfg.GetBool("attestation.allow_debug", false));
  CLOISTER_ASSIGN_OR_RETURN(int64_t max_age, cfg.GetInt("attestation.quote_max_age_s", 600, 1, 86400));
  CLOISTER_ASSIGN_OR_RETURN(std::string socket,
                            cfg.GetString("attestation.platform_socket", "/run/cloister/platform.sock"));

  CLOISTER_ASSIGN_OR_RETURN(std::string root_pem, ReadFile(Resolve(path, root_path), 1 << 20));
  auto root = crypto::Certificate::FromPem(root_pem);
  if (!root.ok()) return root.error().WithContext(path + ": attestation.root_ca");
  if (!root->is_ca())
    return InvalidArgument(path + ": attestation.root_ca is not a CA certificate", "CONFIG_INVALID");

  AuditorSet auditors;
  auditors.threshold = static_cast<int>(threshold);
  for (const auto& kp : key_paths) {
    CLOISTER_ASSIGN_OR_RETURN(std::string pem, ReadFile(Resolve(path, kp), 1 << 16));
    auto key = crypto::PublicKey::FromPem(pem);
    if (!key.ok()) return key.error().WithContext(path + ": auditor key " + kp);
    if (key->type() != crypto::KeyType::kEd25519)
      return InvalidArgument(path + ": auditor key " + kp + " is not Ed25519", "CONFIG_INVALID");
    auditors.keys.push_back(*std::move(key));
  }
  CLOISTER_ASSIGN_OR_RETURN(std::string manifest_bytes,
                            ReadFile(Resolve(path, manifest_path), kMaxManifestBytes));
  auto manifest = Manifest::Verify(AsBytes(manifest_bytes), auditors);
  if (!manifest.ok()) return manifest.error().WithContext(path + ": manifest " + manifest_path);

  return TrustConfig{*std::move(root), std::move(auditors), *std::move(manifest),
                     static_cast<int>(level), allow_debug, max_age, Resolve(path, socket), path};
}

}  // namespace cloister::attestation
