// Verifies an audit log (segments, head, and given a trust the checkpoint
// signatures; given the chain key the MACs), naming the first problem by a
// stable reason: `cloister audit verify`, the service's own check, tests.
//
//   auto rep = VerifyAuditLog(dir + "/gateway.log", {.trust = t, .require_signed = true});
//   if (!rep->ok) std::cerr << rep->bad_file << ":" << rep->first_bad_line << " " << rep->reason;
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/common/audit_format.h"

namespace cloister::services {

// Checks the checkpoint signatures of one signer key.
class AuditSignatureCheck {
 public:
  virtual ~AuditSignatureCheck() = default;
  virtual Status Verify(std::string_view statement, ByteView signature) const = 0;
};

// Decides whether the key a signer line declares may sign checkpoints of
// its service's log: an attested key of that role, or the level-1 key.
// Any error makes the log fail with AUDIT_SIGNER_UNTRUSTED.
using AuditSignerTrust =
    std::function<Result<std::shared_ptr<const AuditSignatureCheck>>(const AuditLine& signer)>;

struct AuditVerifyOptions {
  AuditSignerTrust trust;         // null: checkpoint signatures are not checked
  bool require_signed = false;    // AUDIT_UNSIGNED when entries exist but no checkpoint verifies
  bool require_head = false;      // AUDIT_HEAD_MISSING when a log past its first start has no head
  ByteView mac_key;               // the chain key: check every MAC too (the service itself)
  std::string expected_service;   // "" = whatever the segment headers say
  std::optional<uint64_t> until_seq;  // stop after this line (a snapshot of a live log)
};

struct AuditVerifyReport {
  bool ok = false;
  std::string service;
  uint64_t entries = 0;         // entry lines (not headers, signers, checkpoints)
  uint64_t lines = 0;
  // The first problem: where, a stable reason (plus related ones), a message.
  int64_t first_bad_line = -1;  // 1-based line in bad_file, -1 when not one line
  std::string bad_file;
  std::string reason;
  std::vector<std::string> reasons;
  std::string problem;
  // Coverage, for the operator.
  uint64_t segments = 0, first_segment = 0, last_segment = 0;
  uint64_t checkpoints = 0;
  bool signatures_checked = false, macs_checked = false;
  int64_t signed_through_seq = -1;  // the last line a verified checkpoint covers
  uint64_t unsigned_tail_lines = 0; // lines after it: vouched for only by the keyed MAC
  int64_t last_seq = -1;
  bool closed = false;              // ends with a final checkpoint (clean shutdown)
  std::string head = "absent";      // matched | absent
  int64_t head_seq = -1;
  bool partial_tail = false;         // the last segment ends inside a line
  std::vector<std::string> warnings;
};

// The files of one log, read (head first, so it never runs ahead of what
// is read after it).
struct AuditSegmentText {
  std::string file;
  std::optional<uint64_t> number;  // from the name; unknown for a standalone file
  std::string content;
};
struct AuditLogText {
  std::string base;
  std::vector<AuditSegmentText> segments;  // in order
  // One file outside a segment set (a copy): its first line's link to
  // earlier lines is taken as given.
  bool standalone = false;
  std::optional<std::string> head;
  std::string head_file;
};

// `path`: a log's base path (<dir>/<role>.log: the segments <role>.log.NNNNNN,
// the legacy <role>.log.000000 if any, and <role>.log.head), or any single
// file (a plain log, or a copy of one segment). NotFound if neither.
Result<AuditLogText> LoadAuditLog(const std::string& path);
AuditVerifyReport VerifyAuditText(const AuditLogText& log, const AuditVerifyOptions& options);
// Loads and verifies; a log that ends inside a line is read once more after
// a moment (a live service may be in the middle of a write) before that
// counts as AUDIT_TRUNCATED.
Result<AuditVerifyReport> VerifyAuditLog(const std::string& path,
                                         const AuditVerifyOptions& options = {});

// Base paths of the logs in `dir` (segment sets and plain files), sorted.
std::vector<std::string> FindAuditLogs(const std::string& dir);

}  // namespace cloister::services
