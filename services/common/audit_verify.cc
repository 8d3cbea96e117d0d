// The audit log verifier; see audit_verify.h. One pass over the segments in
// order; the first problem stops it (later lines are judged relative to
// broken ones, so further findings would mislead).
#include "services/common/audit_verify.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "common/fs.h"

namespace cloister::services {
namespace {

namespace fs = std::filesystem;
namespace r = audit_reason;

std::vector<std::string_view> SplitLines(std::string_view content, bool* partial_tail) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) {
      *partial_tail = true;
      out.push_back(content.substr(pos));
      break;
    }
    out.push_back(content.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

class Verifier {
 public:
  Verifier(const AuditLogText& log, const AuditVerifyOptions& o) : log_(log), o_(o) {
    rep_.service = o.expected_service;
    rep_.signatures_checked = static_cast<bool>(o.trust);
    rep_.macs_checked = !o.mac_key.empty();
  }

  AuditVerifyReport Run() {
    for (size_t i = 0; i < log_.segments.size() && !done_; ++i)
      if (!Segment(i)) return rep_;
    if (!Finish()) return rep_;
    rep_.ok = true;
    return rep_;
  }

 private:
  bool Fail(const char* reason, const std::string& file, int64_t line, std::string msg,
            std::vector<std::string> more = {}) {
    rep_.ok = false;
    rep_.reason = reason;
    rep_.reasons = {reason};
    rep_.reasons.insert(rep_.reasons.end(), more.begin(), more.end());
    rep_.bad_file = file;
    rep_.first_bad_line = line;
    rep_.problem = std::move(msg);
    return false;
  }

  bool Segment(size_t idx) {
    const AuditSegmentText& seg = log_.segments[idx];
    const bool last = idx + 1 == log_.segments.size();
    const bool legacy = !log_.standalone && seg.number && *seg.number == 0;
    if (!log_.standalone) {
      const uint64_t n = *seg.number;
      if (idx == 0 && n > 1)
        return Fail(r::kSegmentMissing, seg.file, -1,
                    "the log starts at segment " + std::to_string(n) + ": segments " +
                        (n == 2 ? "1" : "1.." + std::to_string(n - 1)) + " are missing");
      if (idx > 0 && n != prev_segment_ + 1)
        return Fail(r::kSegmentMissing, seg.file, -1,
                    "segment " + std::to_string(prev_segment_ + 1) +
                        (n == prev_segment_ + 2 ? "" : ".." + std::to_string(n - 1)) +
                        " is missing (the segment before this one is " +
                        std::to_string(prev_segment_) + ")");
      prev_segment_ = n;
      if (rep_.segments == 0) rep_.first_segment = n;
      rep_.last_segment = n;
    }
    ++rep_.segments;
    bool partial = false;
    std::vector<std::string_view> lines = SplitLines(seg.content, &partial);
    // A partial last line is judged after the lines before it.
    if (partial) lines.pop_back();
    if (lines.empty() && !partial) {
      if (!last) return Fail(r::kTruncated, seg.file, -1, "the segment is empty");
      rep_.warnings.push_back(seg.file + ": empty segment");
      return true;
    }
    seg_entries_ = 0;
    for (size_t j = 0; j < lines.size() && !done_; ++j)
      if (!Line(seg, legacy, lines, j)) return false;
    // Past a snapshot (until_seq) the partial line is an append in progress.
    if (partial && !o_.until_seq && !done_) {
      rep_.partial_tail = last;
      return Fail(r::kTruncated, seg.file, static_cast<int64_t>(lines.size()) + 1,
                  last ? "the log ends inside a line (cut short, or a write in progress)"
                       : "the segment ends inside a line (cut short)");
    }
    return true;
  }

  // Finds which later line of the segment holds `seq` (reorder vs delete).
  static bool SeqAhead(const std::vector<std::string_view>& lines, size_t from, uint64_t seq) {
    for (size_t k = from; k < lines.size() && k < from + 10'000; ++k) {
      auto l = ParseAuditLine(lines[k]);
      if (l.ok() && l->seq == seq) return true;
    }
    return false;
  }

  bool Line(const AuditSegmentText& seg, bool legacy, const std::vector<std::string_view>& lines,
            size_t j) {
    const std::string_view text = lines[j];
    const int64_t lineno = static_cast<int64_t>(j) + 1;
    const std::string& file = seg.file;
    auto parsed = ParseAuditLine(text);
    if (!parsed.ok()) return Fail(r::kLineMalformed, file, lineno, parsed.error().message());
    const AuditLine& l = *parsed;
    if (o_.until_seq && l.seq > *o_.until_seq) {
      done_ = true;
      return true;
    }
    const bool anchor = l.kind == AuditLineKind::kSegment || l.kind == AuditLineKind::kCheckpoint;
    // Where the chain starts.
    if (!have_prev_) {
      if (log_.standalone) {
        expect_seq_ = l.seq;
        prev_hash_ = l.prev;
        prev_mac_ = anchor ? l.prev_mac : "";
        if (l.seq != 0)
          rep_.warnings.push_back(file + ": a single file starting at seq " + std::to_string(l.seq) +
                                  "; its link to earlier lines is not checked");
      } else {
        expect_seq_ = 0;
        prev_hash_ = kAuditGenesis;
        prev_mac_ = kAuditGenesis;
        if (l.seq != 0 && l.kind == AuditLineKind::kSegment)
          return Fail(r::kSegmentMissing, file, lineno,
                      "segment 1 continues a pre-segment log (seq " + std::to_string(l.seq) +
                          ") that is missing (" + log_.base + ".000000)");
      }
      have_prev_ = true;
    }
    // Content first: seq and links are judged only on intact lines.
    if (AuditLineHash(l.prev, text, l) != l.hash)
      return Fail(r::kEntryEdited, file, lineno, "the line does not match its hash (edited)");
    // A segment must end with its closing checkpoint before the next begins.
    if (j == 0 && l.kind == AuditLineKind::kSegment && segment_seen_ && !last_final_)
      return Fail(r::kTruncated, prev_file_, prev_lineno_,
                  "segment " + std::to_string(cur_segment_) +
                      " ends without its closing checkpoint (cut short)");
    // Sequence: deletion, reordering, insertion.
    if (l.seq != expect_seq_) {
      if (l.seq > expect_seq_) {
        if (SeqAhead(lines, j + 1, expect_seq_))
          return Fail(r::kReordered, file, lineno,
                      "seq " + std::to_string(l.seq) + " where " + std::to_string(expect_seq_) +
                          " was expected; seq " + std::to_string(expect_seq_) +
                          " comes later (lines reordered)");
        return Fail(r::kEntryDeleted, file, lineno,
                    "seq " + std::to_string(l.seq) + " where " + std::to_string(expect_seq_) +
                        " was expected: " + std::to_string(l.seq - expect_seq_) +
                        " line(s) deleted");
      }
      return Fail(r::kEntryInserted, file, lineno,
                  "seq " + std::to_string(l.seq) + " appears again after seq " +
                      std::to_string(expect_seq_ - 1) + " (a line was inserted or duplicated)");
    }
    if (l.prev != prev_hash_ && prev_file_.empty())
      return Fail(r::kChainBroken, file, lineno, "the first line does not start the chain");
    if (l.prev != prev_hash_) {
      // This line is intact and in sequence, so the line before it was
      // changed and its hash recomputed: this one committed to the original.
      return Fail(r::kEntryEdited, prev_file_, prev_lineno_,
                  "the line was changed and its hash recomputed: the next line links to a "
                  "different hash",
                  {r::kChainBroken});
    }
    // Plain (pre-segment) or keyed segment: decided by the segment's first line.
    if (j == 0) seg_keyed_ = !legacy && (!log_.standalone || l.kind == AuditLineKind::kSegment);
    if (seg_keyed_ && j == 0 && l.kind != AuditLineKind::kSegment)
      return Fail(r::kSegmentInvalid, file, lineno, "the first line of a segment is not its header");
    if (seg_keyed_ && l.mac.empty())
      return Fail(r::kLineMalformed, file, lineno, "a line without a MAC in a keyed segment");
    if (!seg_keyed_ && l.kind != AuditLineKind::kEntry)
      return Fail(r::kSegmentInvalid, file, lineno, "a segment line in a plain log");
    if (l.kind == AuditLineKind::kSegment && !prev_mac_.empty() && l.prev_mac != prev_mac_)
      return Fail(r::kSegmentInvalid, file, lineno, "prev_mac is not the previous line's MAC");
    if (!o_.mac_key.empty() && seg_keyed_) {
      const std::string& base_mac = !prev_mac_.empty() ? prev_mac_ : l.prev_mac;
      if (!base_mac.empty() && AuditLineMac(o_.mac_key, base_mac, text, l) != l.mac)
        return Fail(r::kMacInvalid, file, lineno,
                    "the keyed MAC does not verify: the line was written without the service's "
                    "chain key");
    }
    ++lines_since_cp_;
    if (!CheckKind(seg, l, file, lineno, j)) return false;
    prev_hash_ = l.hash;
    // Plain lines carry no MAC: the keyed chain after them starts at genesis.
    prev_mac_ = l.mac.empty() ? kAuditGenesis : l.mac;
    prev_file_ = file;
    prev_lineno_ = lineno;
    last_final_ = l.kind == AuditLineKind::kCheckpoint && l.final;
    ++expect_seq_;
    ++rep_.lines;
    rep_.last_seq = static_cast<int64_t>(l.seq);
    return true;
  }

  bool CheckKind(const AuditSegmentText& seg, const AuditLine& l, const std::string& file,
                 int64_t lineno, size_t j) {
    if (l.kind != AuditLineKind::kEntry && !o_.expected_service.empty() &&
        l.service != o_.expected_service)
      return Fail(r::kSegmentInvalid, file, lineno,
                  "a line of service '" + l.service + "' in the log of '" + o_.expected_service + "'");
    switch (l.kind) {
      case AuditLineKind::kEntry:
        ++rep_.entries;
        ++seg_entries_;
        if (cp_every_ > 0 && ++entries_since_cp_ > cp_every_)
          return Fail(r::kCheckpointMissing, file, lineno,
                      "more than " + std::to_string(cp_every_) +
                          " entries since the last checkpoint (the service signs one every " +
                          std::to_string(cp_every_) + ")");
        return true;
      case AuditLineKind::kSegment:
        if (j != 0) return Fail(r::kSegmentInvalid, file, lineno, "a segment header inside a segment");
        if (seg.number && !log_.standalone && l.segment != *seg.number)
          return Fail(r::kSegmentInvalid, file, lineno,
                      "the header says segment " + std::to_string(l.segment) + ", the file name " +
                          std::to_string(*seg.number));
        if (rep_.service.empty()) rep_.service = l.service;
        segment_seen_ = true;
        cur_segment_ = l.segment;
        cp_every_ = l.checkpoint_every;
        entries_since_cp_ = 0;
        return true;
      case AuditLineKind::kSigner:
        if (l.segment != cur_segment_)
          return Fail(r::kSegmentInvalid, file, lineno, "a signer line of another segment");
        if (o_.trust && !checks_.count(l.key_id)) {
          auto check = o_.trust(l);
          if (!check.ok())
            return Fail(r::kSignerUntrusted, file, lineno,
                        "the checkpoint key this line declares is not one the cluster trusts: " +
                            check.error().message(),
                        {r::kRewritten});
          checks_[l.key_id] = *check;
        }
        return true;
      case AuditLineKind::kCheckpoint:
        return Checkpoint(l, file, lineno);
    }
    return true;
  }

  bool Checkpoint(const AuditLine& l, const std::string& file, int64_t lineno) {
    // The signature first: whatever else is off in a rewritten checkpoint,
    // that it was not signed by the service is the finding.
    if (o_.trust) {
      auto it = checks_.find(l.signer);
      if (it == checks_.end())
        return Fail(r::kSignerUnknown, file, lineno,
                    "the checkpoint is signed by a key no earlier signer line declares");
      auto sig = Base64Decode(l.sig);
      if (!sig.ok() || !it->second->Verify(CheckpointStatement(l), *sig).ok())
        return Fail(r::kRewritten, file, lineno,
                    "the checkpoint's signature does not verify: the chain up to here was "
                    "recomputed by someone without the service's attested key",
                    {r::kSignatureInvalid});
    }
    if (l.segment != cur_segment_ || l.seg_entries != seg_entries_ ||
        (!prev_mac_.empty() && l.prev_mac != prev_mac_))
      return Fail(r::kCheckpointInvalid, file, lineno,
                  "the checkpoint's segment, entry count or MAC link does not match the log");
    ++rep_.checkpoints;
    checkpoint_hashes_[l.seq] = l.hash;
    if (o_.trust) rep_.signed_through_seq = static_cast<int64_t>(l.seq);
    lines_since_cp_ = 0;
    entries_since_cp_ = 0;
    return true;
  }

  bool Finish() {
    rep_.closed = last_final_;
    rep_.unsigned_tail_lines = lines_since_cp_;
    if (log_.head) {
      if (!Head(*log_.head)) return false;
    } else if (o_.require_head && !log_.standalone) {
      // Only a log that crashed during its first start has no head yet.
      const bool fresh = rep_.segments <= 1 && rep_.first_segment <= 1 && rep_.lines <= 3 &&
                         rep_.entries == 0;
      if (!fresh)
        return Fail(r::kHeadMissing, AuditHeadPath(log_.base), -1,
                    "the log's signed head is missing: without it a cut tail cannot be told from "
                    "a clean end");
    }
    if (o_.require_signed && rep_.entries > 0 && rep_.signed_through_seq < 0)
      return Fail(r::kUnsigned, log_.segments.empty() ? log_.base : log_.segments.front().file, -1,
                  rep_.signatures_checked
                      ? "no checkpoint of this log carries a trusted signature (a plain or "
                        "pre-upgrade log is only corruption-evident)"
                      : "checkpoint signatures were not checked");
    return true;
  }

  bool Head(const std::string& text) {
    const std::string& file = log_.head_file;
    bool partial = false;
    std::vector<std::string_view> lines = SplitLines(text, &partial);
    if (partial || lines.size() != 2)
      return Fail(r::kHeadInvalid, file, -1, "the head is not a signer line and a checkpoint line");
    auto s = ParseAuditLine(lines[0]);
    auto c = ParseAuditLine(lines[1]);
    if (!s.ok() || !c.ok() || s->kind != AuditLineKind::kSigner ||
        c->kind != AuditLineKind::kCheckpoint || s->key_id != c->signer ||
        AuditLineHash(c->prev, lines[1], *c) != c->hash)
      return Fail(r::kHeadInvalid, file, -1, "the head does not parse as a signed checkpoint");
    if (!rep_.service.empty() && c->service != rep_.service)
      return Fail(r::kHeadInvalid, file, -1, "the head belongs to service '" + c->service + "'");
    if (!o_.mac_key.empty() && AuditLineMac(o_.mac_key, c->prev_mac, lines[1], *c) != c->mac)
      return Fail(r::kHeadInvalid, file, -1, "the head's MAC does not verify");
    if (o_.trust) {
      auto check = o_.trust(*s);
      if (!check.ok())
        return Fail(r::kHeadInvalid, file, -1, "the head's key is not trusted: " + check.error().message());
      auto sig = Base64Decode(c->sig);
      if (!sig.ok() || !(*check)->Verify(CheckpointStatement(*c), *sig).ok())
        return Fail(r::kHeadInvalid, file, -1, "the head's signature does not verify",
                    {r::kSignatureInvalid});
    }
    rep_.head_seq = static_cast<int64_t>(c->seq);
    if (o_.until_seq && c->seq > *o_.until_seq) {
      rep_.head = "matched";
      return true;
    }
    if (static_cast<int64_t>(c->seq) > rep_.last_seq)
      return Fail(r::kTruncated, prev_file_.empty() ? file : prev_file_, -1,
                  "the log ends at seq " + std::to_string(rep_.last_seq) +
                      " but its signed head records checkpoint seq " + std::to_string(c->seq) +
                      " (segment " + std::to_string(c->segment) + "): " +
                      std::to_string(static_cast<int64_t>(c->seq) - rep_.last_seq) +
                      " or more lines were removed from the end");
    auto it = checkpoint_hashes_.find(c->seq);
    if (it == checkpoint_hashes_.end() || it->second != c->hash)
      return Fail(r::kRewritten, file, -1,
                  "the line at seq " + std::to_string(c->seq) +
                      " is not the checkpoint the signed head records");
    rep_.head = "matched";
    return true;
  }

  const AuditLogText& log_;
  const AuditVerifyOptions& o_;
  AuditVerifyReport rep_;
  bool done_ = false;
  bool have_prev_ = false, seg_keyed_ = false, segment_seen_ = false, last_final_ = false;
  std::string prev_hash_, prev_mac_, prev_file_;
  int64_t prev_lineno_ = 0;
  uint64_t expect_seq_ = 0, prev_segment_ = 0, cur_segment_ = 0;
  uint64_t cp_every_ = 0, entries_since_cp_ = 0, seg_entries_ = 0, lines_since_cp_ = 0;
  std::map<std::string, std::shared_ptr<const AuditSignatureCheck>> checks_;
  std::map<uint64_t, std::string> checkpoint_hashes_;
};

bool IsRegular(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(p, ec));
}

}  // namespace

Result<AuditLogText> LoadAuditLog(const std::string& path) {
  AuditLogText log;
  log.base = path;
  log.head_file = AuditHeadPath(path);
  // The head first: it then never records more than the segments read next.
  if (FileExists(log.head_file)) {
    CLOISTER_ASSIGN_OR_RETURN(std::string head, ReadFile(log.head_file, 4 * kAuditMaxLineBytes));
    log.head = std::move(head);
  }
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string name = p.filename().string();
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto n = AuditSegmentNumber(name, e.path().filename().string());
    if (n && IsRegular(e.path())) found.emplace_back(*n, e.path().string());
  }
  std::sort(found.begin(), found.end());
  if (found.empty()) {
    if (!FileExists(path)) return NotFound("no audit log at " + path);
    log.standalone = true;
    AuditSegmentText s{path, std::nullopt, ""};
    CLOISTER_ASSIGN_OR_RETURN(s.content, ReadFile(path, 4ull << 30));
    log.segments.push_back(std::move(s));
    return log;
  }
  for (auto& [n, file] : found) {
    AuditSegmentText s{file, n, ""};
    CLOISTER_ASSIGN_OR_RETURN(s.content, ReadFile(file, 4ull << 30));
    log.segments.push_back(std::move(s));
  }
  return log;
}

AuditVerifyReport VerifyAuditText(const AuditLogText& log, const AuditVerifyOptions& options) {
  return Verifier(log, options).Run();
}

Result<AuditVerifyReport> VerifyAuditLog(const std::string& path, const AuditVerifyOptions& options) {
  CLOISTER_ASSIGN_OR_RETURN(AuditLogText log, LoadAuditLog(path));
  AuditVerifyReport rep = VerifyAuditText(log, options);
  if (rep.ok || !rep.partial_tail) return rep;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CLOISTER_ASSIGN_OR_RETURN(log, LoadAuditLog(path));
  return VerifyAuditText(log, options);
}

std::vector<std::string> FindAuditLogs(const std::string& dir) {
  std::set<std::string> bases;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    const std::string stem = name.substr(0, dot);
    if (stem.size() > 4 && stem.ends_with(".log") && AuditSegmentNumber(stem, name) &&
        IsRegular(e.path())) {
      bases.insert((fs::path(dir) / stem).string());
    } else if (name.ends_with(".log") && IsRegular(e.path())) {
      bases.insert(e.path().string());
    }
  }
  return {bases.begin(), bases.end()};
}

}  // namespace cloister::services
