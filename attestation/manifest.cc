// Signed enclave manifest: verification (N-of-M Ed25519 auditor signatures)
// and the build-side signing helpers; see manifest.h.
#include "attestation/manifest.h"

#include <algorithm>
#include <set>

#include "attestation/enclave_config.h"
#include "attestation/sys/loader_list.h"

namespace cloister::attestation {

crypto::Digest AuditorSet::SignerId() const {
  std::vector<Bytes> spkis;
  for (const auto& k : keys) spkis.push_back(k.SpkiDer());
  std::sort(spkis.begin(), spkis.end());
  crypto::Sha256Hasher h;
  h.Update(std::string_view("cloister-signer-v1"));
  uint8_t t[4] = {static_cast<uint8_t>(threshold >> 24), static_cast<uint8_t>(threshold >> 16),
                  static_cast<uint8_t>(threshold >> 8), static_cast<uint8_t>(threshold)};
  h.Update(ByteView(t, 4));
  for (const auto& s : spkis) {
    uint8_t len[4] = {0, 0, static_cast<uint8_t>(s.size() >> 8), static_cast<uint8_t>(s.size())};
    h.Update(ByteView(len, 4));
    h.Update(s);
  }
  return h.Finish();
}

Result<Manifest> Manifest::Verify(ByteView signed_manifest, const AuditorSet& auditors) {
  if (auditors.threshold < 1 || auditors.threshold > static_cast<int>(auditors.keys.size()))
    return FailedPrecondition("auditor threshold " + std::to_string(auditors.threshold) +
                              " is not within 1.." + std::to_string(auditors.keys.size()));
  if (signed_manifest.empty() || signed_manifest.size() > kMaxManifestBytes)
    return InvalidArgument("manifest size out of range", kManifestMalformed);
  SignedManifest sm;
  if (!sm.ParseFromArray(signed_manifest.data(), static_cast<int>(signed_manifest.size())))
    return InvalidArgument("manifest is not a valid SignedManifest", kManifestMalformed);
  const ByteView body = AsBytes(sm.body());

  std::set<Bytes> good;  // distinct trusted keys with a valid signature
  std::vector<Bytes> trusted;
  for (const auto& k : auditors.keys) trusted.push_back(k.SpkiDer());
  for (const auto& sig : sm.signatures()) {
    Bytes spki = ToBytes(sig.auditor_key_spki());
    auto it = std::find(trusted.begin(), trusted.end(), spki);
    if (it == trusted.end()) continue;  // an unknown auditor's signature counts for nothing
    const auto& key = auditors.keys[static_cast<size_t>(it - trusted.begin())];
    if (!key.Verify(body, AsBytes(sig.signature())).ok())
      return PermissionDenied("manifest signature by a trusted auditor does not verify "
                              "(manifest tampered?)",
                              kManifestSignatureInvalid);
    good.insert(spki);
  }
  if (static_cast<int>(good.size()) < auditors.threshold)
    return PermissionDenied("manifest has " + std::to_string(good.size()) +
                                " valid auditor signatures, " +
                                std::to_string(auditors.threshold) + " required",
                            kManifestUnderSigned);

  Manifest m;
  if (!m.body_.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return InvalidArgument("manifest body does not parse", kManifestMalformed);
  if (m.body_.version() != kManifestVersion)
    return InvalidArgument("unsupported manifest version " + std::to_string(m.body_.version()),
                           kManifestMalformed);
  for (const auto& e : m.body_.entries()) {
    if (e.name().empty() || e.name().size() > 128 || e.measurement().size() != crypto::kSha256Size)
      return InvalidArgument("manifest entry with a bad name or measurement", kManifestMalformed);
  }
  for (const auto& r : m.body_.reference_values()) {
    if (r.type().empty() || r.data_digest().size() != crypto::kSha256Size)
      return InvalidArgument("manifest reference value malformed", kManifestMalformed);
  }
  for (const auto& l : m.body_.libraries()) {
    if (l.digest().size() != crypto::kSha256Size || l.path().size() > 4096)
      return InvalidArgument("manifest library reference malformed", kManifestMalformed);
  }
  for (const auto& c : m.body_.configs()) {
    // What the auditors read must be what the id covers.
    if (c.role().empty() || c.role().size() > 128 || c.text().size() > kMaxConfigTextBytes ||
        c.config_id().size() != crypto::kSha256Size ||
        !ConstantTimeEqual(AsBytes(c.config_id()), ConfigIdOfText(c.text())))
      return InvalidArgument("manifest config reference malformed (its id is not the digest of "
                             "its text)",
                             kManifestMalformed);
  }
  if (m.body_.cluster_id().size() > 128)
    return InvalidArgument("manifest cluster_id longer than 128 bytes", kManifestMalformed);
  m.signer_ = crypto::DigestBytes(auditors.SignerId());
  m.digest_ = crypto::Sha256(signed_manifest);
  return m;
}

const ManifestEntry* Manifest::FindByMeasurement(ByteView measurement) const {
  for (const auto& e : body_.entries())
    if (ConstantTimeEqual(AsBytes(e.measurement()), measurement)) return &e;
  return nullptr;
}

std::vector<const ManifestEntry*> Manifest::FindByName(std::string_view name) const {
  std::vector<const ManifestEntry*> out;
  for (const auto& e : body_.entries())
    if (e.name() == name) out.push_back(&e);
  return out;
}

std::vector<const ConfigReference*> Manifest::ConfigsFor(std::string_view role) const {
  std::vector<const ConfigReference*> out;
  for (const auto& c : body_.configs())
    if (c.role() == role) out.push_back(&c);
  return out;
}

Status Manifest::CheckConfig(const ManifestEntry& entry, ByteView config_id,
                             std::string_view config_text) const {
  if (entry.any_config()) return OkStatus();
  const auto pinned = ConfigsFor(entry.name());
  for (const ConfigReference* c : pinned)
    if (config_id.size() == crypto::kSha256Size && ConstantTimeEqual(AsBytes(c->config_id()), config_id))
      return OkStatus();
  std::string msg = "enclave '" + entry.name() + "' runs a configuration (id " +
                    (config_id.empty() ? std::string("none") : HexEncode(config_id).substr(0, 16)) +
                    ") that the signed manifest does not list for that role";
  if (pinned.empty()) msg += " (it lists none)";
  // Name what differs from the nearest signed configuration, when the
  // enclave's text is at hand and is really the one its id covers.
  auto mine = EnclaveConfig::Parse(config_text);
  if (!config_text.empty() && mine.ok() && config_id.size() == crypto::kSha256Size &&
      ConstantTimeEqual(ConfigIdOfText(config_text), config_id) && !pinned.empty()) {
    std::vector<std::string> best;
    bool have = false;
    for (const ConfigReference* c : pinned) {
      auto theirs = EnclaveConfig::Parse(c->text());
      if (!theirs.ok()) continue;
      auto d = DifferingKeys(*mine, *theirs);
      if (!have || d.size() < best.size()) best = std::move(d), have = true;
    }
    if (have && !best.empty()) {
      msg += "; differs in:";
      for (const auto& k : best) msg += " " + k;
    }
  }
  return PermissionDenied(msg, kConfigNotInManifest);
}

uint32_t Manifest::MinSvn(std::string_view name) const {
  uint32_t min = 0;
  for (const auto& e : body_.entries())
    if (e.name() == name) min = std::max(min, e.min_svn());
  return min;
}

bool Manifest::IsReferenceValue(std::string_view type, ByteView data_digest) const {
  for (const auto& r : body_.reference_values())
    if (r.type() == type && AsBytes(r.data_digest()).size() == data_digest.size() &&
        std::equal(data_digest.begin(), data_digest.end(), AsBytes(r.data_digest()).begin()))
      return true;
  return false;
}

bool Manifest::IsLibraryReference(ByteView file_digest) const {
  for (const auto& l : body_.libraries())
    if (ConstantTimeEqual(AsBytes(l.digest()), file_digest)) return true;
  return false;
}

Result<std::vector<std::string>> ParseLoaderList(std::string_view listing) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t end = listing.find('\n', pos);
    if (end == std::string_view::npos) end = listing.size();
    std::string_view line = listing.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
    if (line.empty() || line.find("not a dynamic executable") != std::string_view::npos) continue;
    size_t arrow = line.find(" => ");
    std::string_view path = arrow == std::string_view::npos ? line : line.substr(arrow + 4);
    if (path.rfind("not found", 0) == 0)
      return FailedPrecondition("library " + std::string(line.substr(0, arrow)) + " not found",
                                kManifestLibraryNotFound);
    path = path.substr(0, path.find(" ("));
    if (path.empty() || path.front() != '/') continue;  // linux-vdso.so.1: not a file
    out.emplace_back(path);
  }
  return out;
}

Result<std::vector<LibraryReference>> FindLibraryReferences(std::span<const std::string> binaries) {
  std::set<std::string> paths;
  for (const auto& bin : binaries) {
    CLOISTER_ASSIGN_OR_RETURN(std::string listing, sys::RunLoaderList(bin));
    auto libs = ParseLoaderList(listing);
    if (!libs.ok()) return libs.error().WithContext(bin);
    paths.insert(libs->begin(), libs->end());
  }
  std::vector<LibraryReference> out;
  std::set<Bytes> seen;
  for (const auto& p : paths) {
    CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, HashFile(p));
    if (!seen.insert(crypto::DigestBytes(d)).second) continue;
    LibraryReference r;
    r.set_path(p);
    r.set_digest(d.data(), d.size());
    out.push_back(std::move(r));
  }
  return out;
}

Status AddLibraryReferences(ManifestBody& body, std::span<const std::string> binaries) {
  CLOISTER_ASSIGN_OR_RETURN(std::vector<LibraryReference> refs, FindLibraryReferences(binaries));
  std::set<std::string> have;
  for (const auto& l : body.libraries()) have.insert(l.digest());
  for (auto& r : refs)
    if (have.insert(r.digest()).second) *body.add_libraries() = std::move(r);
  return OkStatus();
}

Result<ManifestEntry> MakeManifestEntry(std::string_view name, const std::string& binary_path,
                                        uint32_t product_id, uint32_t svn) {
  CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, HashFile(binary_path));
  ManifestEntry e;
  e.set_name(std::string(name));
  e.set_measurement(d.data(), d.size());
  e.set_product_id(product_id);
  e.set_svn(svn);
  return e;
}

Result<Bytes> SignManifest(const ManifestBody& body,
                           std::span<const crypto::PrivateKey> auditor_keys) {
  std::string body_bytes;
  if (!body.SerializeToString(&body_bytes)) return Internal("serialize manifest body");
  SignedManifest sm;
  sm.set_body(body_bytes);
  for (const auto& k : auditor_keys) {
    if (k.type() != crypto::KeyType::kEd25519)
      return InvalidArgument("auditor keys must be Ed25519");
    CLOISTER_ASSIGN_OR_RETURN(Bytes sig, k.Sign(AsBytes(body_bytes)));
    auto* s = sm.add_signatures();
    Bytes spki = k.public_key().SpkiDer();
    s->set_auditor_key_spki(spki.data(), spki.size());
    s->set_signature(sig.data(), sig.size());
  }
  std::string out;
  if (!sm.SerializeToString(&out)) return Internal("serialize manifest");
  return ToBytes(out);
}

}  // namespace cloister::attestation
