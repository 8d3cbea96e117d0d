// The audit log's line format, shared by the writer (audit_log.h), the
// verifier (audit_verify.h) and the fuzzer: parsing (bounds-checked: every
// line read from disk is external input), building, and the hash/MAC chains.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace cloister::services {

// Every line is one compact JSON object ending in
//   ...,"prev":"<hex>"[,"mac":"<hex>"],"hash":"<hex>"}
// hash = SHA-256(prev ‖ "\n" ‖ the line's bytes up to ,"hash" ‖ "}")
// mac  = HMAC-SHA256(chain key, prev_mac ‖ "\n" ‖ the bytes up to ,"mac" ‖ "}")
// Both cover the raw bytes (no re-serialisation), so what is verified is
// exactly what is on disk. "mac" is absent in plain (unkeyed) logs.
//
// Kinds ("kind" member; absent = an entry):
//   entry       seq ts_ms service principal method decision reason request_id peer resources
//   segment     seq ts_ms service segment checkpoint_every prev_mac  (first line of a segment)
//   signer      seq ts_ms service segment why scheme key_id [cert]   (the key of later checkpoints)
//   checkpoint  seq ts_ms service segment why final seg_entries signer prev_mac sig
enum class AuditLineKind { kEntry, kSegment, kSigner, kCheckpoint };

inline constexpr size_t kAuditMaxLineBytes = 1u << 20;
inline constexpr size_t kAuditHexLen = 64;
inline const std::string kAuditGenesis(64, '0');

// Signature schemes of signer lines.
inline constexpr const char* kSchemeEcdsaP256 = "ecdsa-p256";    // cert: base64 DER
inline constexpr const char* kSchemeHmacSha256 = "hmac-sha256";  // level 1: cluster-secret key

// Stable reasons (Error::reason() and AuditVerifyReport::reason).
namespace audit_reason {
inline constexpr const char* kLineMalformed = "AUDIT_LINE_MALFORMED";
inline constexpr const char* kEntryEdited = "AUDIT_ENTRY_EDITED";
inline constexpr const char* kEntryDeleted = "AUDIT_ENTRY_DELETED";
inline constexpr const char* kEntryInserted = "AUDIT_ENTRY_INSERTED";
inline constexpr const char* kReordered = "AUDIT_REORDERED";
inline constexpr const char* kChainBroken = "AUDIT_CHAIN_BROKEN";
inline constexpr const char* kTruncated = "AUDIT_TRUNCATED";
inline constexpr const char* kSegmentMissing = "AUDIT_SEGMENT_MISSING";
inline constexpr const char* kSegmentInvalid = "AUDIT_SEGMENT_INVALID";
inline constexpr const char* kRewritten = "AUDIT_REWRITTEN";
inline constexpr const char* kSignatureInvalid = "AUDIT_CHECKPOINT_SIGNATURE_INVALID";
inline constexpr const char* kCheckpointInvalid = "AUDIT_CHECKPOINT_INVALID";
inline constexpr const char* kCheckpointMissing = "AUDIT_CHECKPOINT_MISSING";
inline constexpr const char* kSignerUnknown = "AUDIT_SIGNER_UNKNOWN";
inline constexpr const char* kSignerUntrusted = "AUDIT_SIGNER_UNTRUSTED";
inline constexpr const char* kUnsigned = "AUDIT_UNSIGNED";
inline constexpr const char* kHeadMissing = "AUDIT_HEAD_MISSING";
inline constexpr const char* kHeadInvalid = "AUDIT_HEAD_INVALID";
inline constexpr const char* kMacInvalid = "AUDIT_MAC_INVALID";
}  // namespace audit_reason

// One parsed line (its fields; the chains are computed over the raw text).
struct AuditLine {
  AuditLineKind kind = AuditLineKind::kEntry;
  uint64_t seq = 0;
  int64_t ts_ms = 0;
  std::string service;
  std::string prev, mac, hash;  // hex; mac empty in plain logs
  size_t hashed_len = 0;        // bytes before ,"hash"
  size_t maced_len = 0;         // bytes before ,"mac" (0 without a mac)
  // segment / signer / checkpoint
  uint64_t segment = 0;
  uint64_t checkpoint_every = 0;  // segment
  std::string prev_mac;           // segment, checkpoint
  std::string why;                // signer, checkpoint
  std::string scheme, key_id, cert;  // signer (cert: base64)
  bool final = false;             // checkpoint: last line of a segment or a run
  uint64_t seg_entries = 0;       // checkpoint: entries in this segment so far
  std::string signer, sig;        // checkpoint (sig: base64)
};

// Parses and checks one line (without its newline). InvalidArgument
// [AUDIT_LINE_MALFORMED] naming the problem.
Result<AuditLine> ParseAuditLine(std::string_view line);

// The chains over a parsed line.
std::string AuditLineHash(std::string_view prev, std::string_view line, const AuditLine& parsed);
std::string AuditLineMac(ByteView key, std::string_view prev_mac, std::string_view line,
                         const AuditLine& parsed);

// Serialises `body` (without prev/mac/hash) into a chained line (no newline).
struct BuiltLine {
  std::string text, hash, mac;
};
BuiltLine BuildAuditLine(const nlohmann::ordered_json& body, std::string_view prev,
                         ByteView mac_key, std::string_view prev_mac);

// The bytes a checkpoint's signature covers: every field that places it in
// the log (service, segment, seq, the previous line's hash and MAC).
std::string CheckpointStatement(const AuditLine& cp);

// Segment file names: <base>.000001 (6+ digits). Returns the number, or
// nullopt if `name` is not a segment of `base_name`.
std::string AuditSegmentPath(const std::string& base, uint64_t n);
std::optional<uint64_t> AuditSegmentNumber(std::string_view base_name, std::string_view name);
inline std::string AuditHeadPath(const std::string& base) { return base + ".head"; }

}  // namespace cloister::services
