// The signed enclave manifest (docs/design.md §2): which binaries (measurements)
// may act as which role, signed by N of M auditor keys (MesaTEE's auditor
// scheme). Every enclave and the platform verify it at start.
//
//   CLOISTER_ASSIGN_OR_RETURN(Manifest m, Manifest::Verify(bytes, auditors));
//   const ManifestEntry* e = m.FindByMeasurement(quote.measurement());
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attestation/sys/file_hash.h"
#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

inline constexpr uint32_t kManifestVersion = 1;
inline constexpr size_t kMaxManifestBytes = 1u << 20;

// Named failures (Error::reason()).
inline constexpr const char* kManifestMalformed = "MANIFEST_MALFORMED";
inline constexpr const char* kManifestSignatureInvalid = "MANIFEST_SIGNATURE_INVALID";
inline constexpr const char* kManifestUnderSigned = "MANIFEST_UNDER_SIGNED";

// The auditor keys a verifier trusts and how many must have signed.
struct AuditorSet {
  std::vector<crypto::PublicKey> keys;  // Ed25519
  int threshold = 1;

  // MRSIGNER: SHA-256("cloister-signer-v1" ‖ threshold ‖ sorted SPKIs), so
  // the identity changes when the auditor set or threshold does.
  crypto::Digest SignerId() const;
};

class Manifest {
 public:
  // Parses and verifies: a well-formed body of a known version, and at least
  // `threshold` valid signatures by DISTINCT trusted auditor keys (unknown
  // signers and duplicates don't count). PermissionDenied with
  // MANIFEST_SIGNATURE_INVALID (a signature by a trusted key fails, i.e. the
  // body was tampered) or MANIFEST_UNDER_SIGNED; InvalidArgument
  // MANIFEST_MALFORMED on garbage.
  static Result<Manifest> Verify(ByteView signed_manifest, const AuditorSet& auditors);

  const ManifestBody& body() const { return body_; }
  const Bytes& signer() const { return signer_; }
  // nullptr if absent. Lifetime: as long as *this.
  const ManifestEntry* FindByMeasurement(ByteView measurement) const;
  std::vector<const ManifestEntry*> FindByName(std::string_view name) const;
  bool IsReferenceValue(std::string_view type, ByteView data_digest) const;
  // The lowest svn allowed for role `name`: the largest min_svn over the
  // entries of that role (0 if none sets one).
  uint32_t MinSvn(std::string_view name) const;
  // Whether a file with this content hash may be mapped executable into an
  // enclave (body().libraries()).
  bool IsLibraryReference(ByteView file_digest) const;
  // The configurations the auditors sign for `role`.
  std::vector<const ConfigReference*> ConfigsFor(std::string_view role) const;
  // OK if `entry` accepts any configuration or `config_id` is one the
  // manifest lists for entry.name(); PermissionDenied
  // [CONFIG_NOT_IN_MANIFEST] otherwise, naming the keys that differ from
  // the nearest signed config when `config_text` (the enclave's canonical
  // text, e.g. from its certificate) hashes to `config_id`.
  Status CheckConfig(const ManifestEntry& entry, ByteView config_id,
                     std::string_view config_text = {}) const;
  // SHA-256 of the signed bytes, to show which manifest is in force.
  const crypto::Digest& digest() const { return digest_; }

 private:
  ManifestBody body_;
  Bytes signer_;
  crypto::Digest digest_{};
};

// Build/ops side: measure a binary for an entry.
Result<ManifestEntry> MakeManifestEntry(std::string_view name, const std::string& binary_path,
                                        uint32_t product_id, uint32_t svn);
// Serialises `body` and signs it with each of `auditor_keys` (Ed25519).
Result<Bytes> SignManifest(const ManifestBody& body,
                           std::span<const crypto::PrivateKey> auditor_keys);

// SHA-256 of a file's content, streamed (the measurement of a binary): the
// one hash function the platform measures with, too.
using sys::HashFile;

inline constexpr const char* kManifestLibraryNotFound = "MANIFEST_LIBRARY_NOT_FOUND";

// The shared libraries (including the dynamic loader) that each of
// `binaries` loads at a clean start, found by running the system loader in
// list mode (sys/loader_list.h; the program itself does not run), each
// hashed with HashFile. Sorted by path, duplicates removed.
// FailedPrecondition [MANIFEST_LIBRARY_NOT_FOUND] if a needed library is
// missing. Libraries a service only dlopen()s later are not found this way
// and must be added by the build explicitly.
Result<std::vector<LibraryReference>> FindLibraryReferences(std::span<const std::string> binaries);
// Adds FindLibraryReferences(binaries) to `body` (skipping digests it has).
Status AddLibraryReferences(ManifestBody& body, std::span<const std::string> binaries);
// The library paths in `ld.so --list` output (exposed for tests):
// "\tlibx.so.1 => /path/libx.so.1 (0x...)" and "\t/lib64/ld-linux... (0x...)";
// the vDSO line (no path) is skipped; "=> not found" is an error.
Result<std::vector<std::string>> ParseLoaderList(std::string_view listing);

}  // namespace cloister::attestation
