// A real platform + trust setup for integration tests; see attested_node.h.
#include "tests/support/attested_node.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "attestation/enclave_config.h"
#include "attestation/manifest.h"
#include "attestation/platform/platform_state.h"
#include "common/fs.h"

namespace cloister::testing {

AttestedNode::AttestedNode(std::vector<std::pair<std::string, std::string>> enclaves,
                           AttestedNodeOptions options)
    : enclaves_(std::move(enclaves)), options_(std::move(options)) {}

AttestedNode::~AttestedNode() { StopPlatform(); }

Status AttestedNode::WriteManifest(const std::string& file, const attestation::ManifestBody& body, int signers) {
  std::vector<crypto::PrivateKey> keys(auditor_keys_.begin(),
                                       auditor_keys_.begin() + std::min<size_t>(signers, auditor_keys_.size()));
  CLOISTER_ASSIGN_OR_RETURN(Bytes signed_manifest, attestation::SignManifest(body, keys));
  return WriteFileAtomic(dir_ / file, signed_manifest, 0644);
}

Result<std::string> AttestedNode::WriteTrustVariant(const std::string& name,
                                                    const std::string& manifest_file,
                                                    int security_level, int64_t quote_max_age_s) {
  std::string toml = "[attestation]\n";
  toml += "root_ca = \"platform-state/platform/root.pem\"\n";
  toml += "manifest = \"" + manifest_file + "\"\n";
  toml += "auditor_keys = [";
  for (int i = 0; i < options_.auditors; ++i)
    toml += (i ? ", " : "") + std::string("\"auditors/auditor-") + std::to_string(i + 1) + ".pub\"";
  toml += "]\n";
  toml += "auditor_threshold = " + std::to_string(options_.threshold) + "\n";
  toml += "security_level = " + std::to_string(security_level) + "\n";
  toml += "quote_max_age_s = " + std::to_string(quote_max_age_s) + "\n";
  toml += "platform_socket = \"" + socket_path() + "\"\n";
  std::string path = dir_ / name;
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(path, toml, 0644));
  return path;
}

Status AttestedNode::Start() {
  CLOISTER_RETURN_IF_ERROR(
      attestation::InitPlatform(dir_ / "platform-state", {}).status());
  // Non-root test clients must be able to read the public trust files.
  ::chmod((dir_ / "platform-state").c_str(), 0755);
  ::chmod((dir_ / "platform-state/platform").c_str(), 0755);
  CLOISTER_RETURN_IF_ERROR(MakeDirs(dir_ / "auditors", 0755));
  for (int i = 0; i < options_.auditors; ++i) {
    CLOISTER_ASSIGN_OR_RETURN(auto k, crypto::PrivateKey::Generate(crypto::KeyType::kEd25519));
    CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(dir_ / ("auditors/auditor-" + std::to_string(i + 1) + ".pub"),
                                             k.public_key().Pem(), 0644));
    auditor_keys_.push_back(std::move(k));
  }
  body_.set_version(attestation::kManifestVersion);
  body_.set_created_unix(time(nullptr));
  uint32_t next_product = 100;
  std::map<std::string, uint32_t> products;
  for (size_t i = 0; i < enclaves_.size(); ++i) {
    const auto& [name, path] = enclaves_[i];
    auto [it, fresh] = products.emplace(name, next_product);
    if (fresh) ++next_product;
    const uint32_t svn = i < options_.svns.size() ? options_.svns[i] : 1;
    CLOISTER_ASSIGN_OR_RETURN(attestation::ManifestEntry e,
                              attestation::MakeManifestEntry(name, path, it->second, svn));
    const auto& pinned = options_.pinned_roles;
    e.set_any_config(std::find(pinned.begin(), pinned.end(), name) == pinned.end());
    *body_.add_entries() = e;
  }
  if (!options_.platform_binary.empty()) {
    CLOISTER_ASSIGN_OR_RETURN(attestation::ManifestEntry e,
                              attestation::MakeManifestEntry("platform", options_.platform_binary, 1, 1));
    *body_.add_entries() = e;
  }
  {  // Reference values for every shared library these binaries map (issue 9).
    std::vector<std::string> bins;
    for (const auto& [name, path] : enclaves_) bins.push_back(path);
    CLOISTER_RETURN_IF_ERROR(attestation::AddLibraryReferences(body_, bins));
  }
  CLOISTER_RETURN_IF_ERROR(WriteManifest("manifest.bin", body_, options_.threshold));
  CLOISTER_RETURN_IF_ERROR(
      WriteTrustVariant("trust.toml", "manifest.bin", options_.security_level, options_.quote_max_age_s)
          .status());

  if (options_.platform_binary.empty()) return FailedPrecondition("no platform binary given");
  CLOISTER_ASSIGN_OR_RETURN(
      Subprocess p, Subprocess::Start({options_.platform_binary, "--state", dir_ / "platform-state",
                                       "--socket", socket_path(), "--trust", trust_path(),
                                       "--security-level", std::to_string(options_.security_level)},
                                      {.log_prefix = dir_ / "platform"}));
  platform_.emplace(std::move(p));
  for (int i = 0; i < 500; ++i) {
    struct stat st {};
    if (::stat(socket_path().c_str(), &st) == 0) return OkStatus();
    if (!platform_->Running())
      return Internal("cloister-platform exited: " + platform_->Stderr());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return DeadlineExceeded("platform socket did not appear: " + platform_->Stderr());
}

attestation::ManifestBody& AttestedNode::body_for(const std::string& manifest_file) {
  if (manifest_file == "manifest.bin") return body_;
  auto [it, fresh] = variants_.emplace(manifest_file, body_);
  return it->second;
}

Status AttestedNode::PinConfig(const std::string& role, std::vector<std::string> argv,
                               const std::string& manifest_file) {
  argv.push_back("--print-config");
  CLOISTER_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start(argv, {.log_prefix = dir_ / ("print-config-" + role)}));
  CLOISTER_ASSIGN_OR_RETURN(int code, p.Wait(std::chrono::seconds(30)));
  if (code != 0) return Internal(argv.front() + " --print-config failed: " + p.Stderr());
  // Take the text and recompute the id rather than trusting the printed one.
  auto j = nlohmann::json::parse(p.Stdout(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["text"].is_string())
    return Internal("--print-config printed no configuration: " + p.Stdout());
  const std::string text = j["text"].get<std::string>();
  attestation::ManifestBody& body = body_for(manifest_file);
  auto* ref = body.add_configs();
  ref->set_role(role);
  const crypto::Digest id = attestation::ConfigIdOfText(text);
  ref->set_config_id(id.data(), id.size());
  ref->set_text(text);
  return WriteManifest(manifest_file, body, options_.threshold);
}

void AttestedNode::StopPlatform() {
  if (platform_) {
    platform_->Signal(SIGTERM);
    if (!platform_->Wait(std::chrono::seconds(5)).ok()) platform_->Kill();
    platform_.reset();
  }
}

}  // namespace cloister::testing
