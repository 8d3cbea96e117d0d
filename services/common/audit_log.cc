// The audit log writer; see audit_log.h. One mutex orders every write, so
// the chain order is the file order; syncs run outside it (group commit)
// except a checkpoint's, which must be durable before the head names it.
#include "services/common/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto/hash.h"
#include "common/fs.h"
#include "common/logging.h"  // Log() itself: the macros need a GNU extension the fuzz build refuses
#include "services/common/audit_files.h"

namespace cloister::services {
namespace {

using nlohmann::ordered_json;
namespace r = audit_reason;

constexpr size_t kMaxField = 4096;      // per entry string: keeps entries far below a line's cap
constexpr size_t kMaxResources = 1024;
constexpr uint64_t kMaxTailBytes = 1ull << 30;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Capped(const std::string& s) {
  return s.size() <= kMaxField ? s : s.substr(0, kMaxField) + "...";
}

bool ValidService(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
  });
}

bool IsAnchor(std::string_view line) {
  auto l = ParseAuditLine(line);
  return l.ok() && (l->kind == AuditLineKind::kSegment || l->kind == AuditLineKind::kCheckpoint);
}

Error Refused(const char* reason, const std::string& path, const std::string& msg) {
  return DataLoss("audit log " + path + ": " + msg, reason);
}

Error Unusable(const std::string& msg) {
  return Unavailable("audit log unavailable: " + msg, "AUDIT_UNAVAILABLE");
}

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::string DirName(const std::string& path) {
  std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

}  // namespace

Result<AuditSyncPolicy> AuditSyncPolicy::Parse(std::string_view mode) {
  AuditSyncPolicy p;
  if (mode == "always") return p;
  if (mode == "interval") {
    p.sync_each = false;
    return p;
  }
  return InvalidArgument("audit sync mode must be 'always' or 'interval', not '" +
                         std::string(mode.substr(0, 32)) + "'");
}

AuditLog::AuditLog(Key, std::string path, std::string service, SecretBytes resource_key,
                   AuditLogOptions options)
    : path_(std::move(path)), service_(std::move(service)), resource_key_(std::move(resource_key)),
      opts_(std::move(options)), prev_(kAuditGenesis), prev_mac_(kAuditGenesis),
      last_cp_(std::chrono::steady_clock::now()) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, std::string service,
                                                 SecretBytes hmac_key, AuditSyncPolicy sync) {
  if (hmac_key.size() < 16) return InvalidArgument("audit HMAC key too short");
  if (!ValidService(service)) return InvalidArgument("audit service name is not a name");
  AuditLogOptions o;
  o.sync = sync;
  auto log = std::make_unique<AuditLog>(Key(), path, std::move(service), std::move(hmac_key),
                                        std::move(o));
  CLOISTER_RETURN_IF_ERROR(log->OpenPlain());
  if (!sync.sync_each) log->background_ = std::thread([p = log.get()] { p->Background(); });
  return log;
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, std::string service,
                                                 SecretBytes resource_key, AuditLogOptions options) {
  if (resource_key.size() < 16) return InvalidArgument("audit HMAC key too short");
  if (!ValidService(service)) return InvalidArgument("audit service name is not a name");
  if (options.chain_key.size() < 32 || options.signer == nullptr)
    return InvalidArgument("a sealed audit log needs a chain key of 32+ bytes and a signer");
  if (options.checkpoint_every_entries == 0 || options.checkpoint_every_ms <= 0 ||
      options.segment_max_entries == 0 || options.segment_max_bytes < 4096)
    return InvalidArgument("audit checkpoint and segment limits must be positive");
  auto log = std::make_unique<AuditLog>(Key(), path, std::move(service), std::move(resource_key),
                                        std::move(options));
  CLOISTER_RETURN_IF_ERROR(log->OpenSealed());
  log->background_ = std::thread([p = log.get()] { p->Background(); });
  return log;
}

// ---- plain ----

Status AuditLog::ContinuePlain(const std::string& file) {
  // Continue only a verified chain: appending after a broken line would
  // launder it.
  CLOISTER_ASSIGN_OR_RETURN(AuditVerifyReport rep, VerifyAuditLog(file));
  if (!rep.ok)
    return Refused(rep.reason.c_str(), file,
                   "broken at line " + std::to_string(rep.first_bad_line) + ": " + rep.problem);
  CLOISTER_ASSIGN_OR_RETURN(audit_files::Tail tail,
                            audit_files::ReadTail(file, [](std::string_view) { return true; },
                                                  kMaxTailBytes));
  if (!tail.lines.empty()) {
    CLOISTER_ASSIGN_OR_RETURN(AuditLine last, ParseAuditLine(tail.lines.back()));
    seq_ = last.seq + 1;
    prev_ = last.hash;
  }
  return OkStatus();
}

Status AuditLog::OpenPlain() {
  if (!audit_files::ListSegments(path_).empty())
    return InvalidArgument(path_ + " is a sealed (segmented) audit log");
  if (FileExists(path_)) CLOISTER_RETURN_IF_ERROR(ContinuePlain(path_));
  CLOISTER_ASSIGN_OR_RETURN(fd_, sys::OpenFd(path_, O_WRONLY | O_CREAT | O_APPEND, 0600));
  return OkStatus();
}

// ---- sealed: open ----

Status AuditLog::MigratePlain() {
  // A log from before segments: verified once, then kept as segment 0,
  // which segment 1's header chains to (so its first checkpoint covers it).
  CLOISTER_RETURN_IF_ERROR(ContinuePlain(path_));
  CLOISTER_RETURN_IF_ERROR(audit_files::RenameDurably(path_, AuditSegmentPath(path_, 0)));
  stats_.migrated_plain_log = true;
  return OkStatus();
}

Status AuditLog::OpenSealed() {
  std::vector<uint64_t> segs = audit_files::ListSegments(path_);
  const bool head = FileExists(AuditHeadPath(path_));
  // An empty newest segment: a crash between creating it and its header.
  while (!segs.empty() && segs.back() > 0) {
    const std::string newest = AuditSegmentPath(path_, segs.back());
    std::error_code ec;
    if (std::filesystem::file_size(newest, ec) != 0 || ec) break;
    if (::unlink(newest.c_str()) != 0) return ErrnoError(errno, "remove empty " + newest);
    segs.pop_back();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (segs.empty() || segs.back() == 0) {
    if (head)
      return Refused(r::kTruncated, path_,
                     "its head records checkpoints but its segments are gone");
    if (segs.empty() && audit_files::IsRegularFile(path_)) {
      CLOISTER_RETURN_IF_ERROR(MigratePlain());
    } else if (!segs.empty()) {
      CLOISTER_RETURN_IF_ERROR(ContinuePlain(AuditSegmentPath(path_, 0)));  // migrated, then crashed
    }
    prev_mac_ = kAuditGenesis;
    CLOISTER_RETURN_IF_ERROR(CreateSegmentLocked(1, "start"));
    CLOISTER_RETURN_IF_ERROR(CheckpointLocked("start", false));
    stats_.segment = 1;
    return OkStatus();
  }
  CLOISTER_RETURN_IF_ERROR(Recover(segs.back()));
  // Every start declares its (new) key and signs at once, so the head
  // always records this run and a verifier sees where each run began.
  CLOISTER_RETURN_IF_ERROR(WriteSignerLocked("start"));
  CLOISTER_RETURN_IF_ERROR(CheckpointLocked("start", false));
  if (segment_bytes_ >= opts_.segment_max_bytes || segment_entries_ >= opts_.segment_max_entries)
    CLOISTER_RETURN_IF_ERROR(RotateLocked(&lock));
  return OkStatus();
}

Status AuditLog::Recover(uint64_t n) {
  const std::string file = AuditSegmentPath(path_, n);
  CLOISTER_ASSIGN_OR_RETURN(audit_files::Tail tail, audit_files::ReadTail(file, IsAnchor, kMaxTailBytes));
  stats_.segment = n;
  stats_.tail_bytes_read = tail.bytes_read;
  stats_.tail_lines = tail.lines.size();
  if (tail.partial_last)
    return Refused(r::kTruncated, file,
                   "the last line is incomplete (a crash during a write, or the file was cut); "
                   "the log needs an operator's look before the service appends to it");
  std::vector<AuditLine> lines;
  lines.reserve(tail.lines.size());
  for (size_t i = 0; i < tail.lines.size(); ++i) {
    auto l = ParseAuditLine(tail.lines[i]);
    if (!l.ok()) return Refused(r::kLineMalformed, file, l.error().message());
    lines.push_back(*std::move(l));
  }
  const AuditLine& first = lines.front();
  const bool whole = tail.first_line_offset == 0;
  if (whole ? first.kind != AuditLineKind::kSegment
            : first.kind != AuditLineKind::kCheckpoint)
    return Refused(r::kSegmentInvalid, file, "the segment does not start with its header");
  if (first.segment != n || first.service != service_)
    return Refused(r::kSegmentInvalid, file, "the tail belongs to another segment or service");
  // The tail's anchor carries the MAC it continues, so the keyed chain can
  // be checked from it without reading anything earlier.
  std::string mac = first.prev_mac;
  uint64_t entries_after = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const AuditLine& l = lines[i];
    if (AuditLineHash(l.prev, tail.lines[i], l) != l.hash)
      return Refused(r::kEntryEdited, file, "seq " + std::to_string(l.seq) + " does not match its hash");
    if (i > 0 && l.seq != lines[i - 1].seq + 1)
      return Refused(l.seq > lines[i - 1].seq ? r::kEntryDeleted : r::kReordered, file,
                     "seq " + std::to_string(l.seq) + " follows seq " + std::to_string(lines[i - 1].seq));
    if (i > 0 && l.prev != lines[i - 1].hash)
      return Refused(r::kChainBroken, file, "seq " + std::to_string(l.seq) + " does not link to the line before");
    if (AuditLineMac(opts_.chain_key.view(), mac, tail.lines[i], l) != l.mac)
      return Refused(r::kMacInvalid, file,
                     "seq " + std::to_string(l.seq) +
                         ": the keyed MAC does not verify (written without this service's chain key)");
    mac = l.mac;
    if (l.kind == AuditLineKind::kEntry) ++entries_after;
  }
  CLOISTER_RETURN_IF_ERROR(CheckHead(lines, whole, n));
  const AuditLine& last = lines.back();
  seq_ = last.seq + 1;
  prev_ = last.hash;
  prev_mac_ = last.mac;
  segment_ = n;
  segment_bytes_ = tail.file_size;
  segment_entries_ = (first.kind == AuditLineKind::kCheckpoint ? first.seg_entries : 0) + entries_after;
  entries_since_cp_ = entries_after;
  lines_since_cp_ = lines.size() - 1;
  CLOISTER_ASSIGN_OR_RETURN(fd_, sys::OpenFd(file, O_WRONLY | O_APPEND | O_NOFOLLOW));
  return audit_files::PointLink(path_, FileName(file));
}

Status AuditLog::CheckHead(const std::vector<AuditLine>& tail, bool whole_segment, uint64_t n) {
  const std::string head_path = AuditHeadPath(path_);
  if (!FileExists(head_path)) {
    // Only a first start that crashed before writing its head has none.
    const bool entries = std::any_of(tail.begin(), tail.end(), [](const AuditLine& l) {
      return l.kind == AuditLineKind::kEntry;
    });
    if (n == 1 && whole_segment && tail.size() <= 3 && !entries) return OkStatus();
    return Refused(r::kHeadMissing, head_path,
                   "the head is missing: a cut tail could not be told from a clean end");
  }
  CLOISTER_ASSIGN_OR_RETURN(std::string text, ReadFile(head_path, 4 * kAuditMaxLineBytes));
  const size_t nl = text.find('\n');
  if (nl == std::string::npos || text.empty() || text.back() != '\n')
    return Refused(r::kHeadInvalid, head_path, "not a signer line and a checkpoint line");
  const std::string_view cp_text = std::string_view(text).substr(nl + 1, text.size() - nl - 2);
  auto cp = ParseAuditLine(cp_text);
  if (!cp.ok() || cp->kind != AuditLineKind::kCheckpoint || cp->service != service_ ||
      AuditLineHash(cp->prev, cp_text, *cp) != cp->hash ||
      AuditLineMac(opts_.chain_key.view(), cp->prev_mac, cp_text, *cp) != cp->mac)
    return Refused(r::kHeadInvalid, head_path, "the head is not a checkpoint under this service's key");
  if (cp->segment > n)
    return Refused(r::kTruncated, path_,
                   "the head records segment " + std::to_string(cp->segment) + ", the newest is " +
                       std::to_string(n) + ": segments were removed from the end");
  if (cp->seq > tail.back().seq)
    return Refused(r::kTruncated, path_,
                   "the log ends at seq " + std::to_string(tail.back().seq) +
                       " but its head records checkpoint seq " + std::to_string(cp->seq));
  if (cp->segment == n && cp->seq >= tail.front().seq) {
    const AuditLine& at = tail[cp->seq - tail.front().seq];
    if (at.hash != cp->hash)
      return Refused(r::kRewritten, path_,
                     "the line at seq " + std::to_string(cp->seq) + " is not the checkpoint the head records");
  }
  return OkStatus();
}

// ---- sealed: writing ----

Status AuditLog::WriteLocked(const ordered_json& body, bool entry, std::string* text) {
  BuiltLine b = BuildAuditLine(body, prev_, sealed() ? opts_.chain_key.view() : ByteView{}, prev_mac_);
  if (b.text.size() > kAuditMaxLineBytes) return Internal("audit line longer than 1 MiB");
  b.text += '\n';
  if (Status st = sys::WriteAll(fd_.get(), b.text); !st.ok()) {
    // The next line would chain to one that may not be there.
    broken_ = true;
    return Unusable(st.error().message());
  }
  b.text.pop_back();
  prev_ = b.hash;
  if (sealed()) prev_mac_ = b.mac;
  ++seq_;
  ++written_;
  segment_bytes_ += b.text.size() + 1;
  ++lines_since_cp_;
  if (entry) {
    ++segment_entries_;
    ++entries_since_cp_;
  }
  if (text != nullptr) *text = std::move(b.text);
  return OkStatus();
}

Status AuditLog::WriteSignerLocked(std::string_view why) {
  ordered_json j;
  j["seq"] = seq_;
  j["kind"] = "signer";
  j["ts_ms"] = NowMs();
  j["service"] = service_;
  j["segment"] = segment_;
  j["why"] = why;
  j["scheme"] = opts_.signer->scheme();
  j["key_id"] = opts_.signer->key_id();
  if (opts_.signer->scheme() == kSchemeEcdsaP256) j["cert"] = opts_.signer->certificate_b64();
  return WriteLocked(j, false, &signer_line_);
}

Status AuditLog::SyncLocked() {
  if (::fdatasync(fd_.get()) != 0) {
    broken_ = true;
    return Unusable(std::string("fdatasync: ") + std::strerror(errno));
  }
  synced_ = written_;
  synced_cv_.notify_all();
  return OkStatus();
}

Status AuditLog::CheckpointLocked(std::string_view why, bool final) {
  AuditLine cp;
  cp.service = service_;
  cp.segment = segment_;
  cp.seq = seq_;
  cp.ts_ms = NowMs();
  cp.why = std::string(why);
  cp.final = final;
  cp.seg_entries = segment_entries_;
  cp.signer = opts_.signer->key_id();
  cp.prev = prev_;
  cp.prev_mac = prev_mac_;
  auto sig = opts_.signer->Sign(CheckpointStatement(cp));
  if (!sig.ok()) {
    broken_ = true;
    return Unusable("cannot sign a checkpoint: " + sig.error().message());
  }
  ordered_json j;
  j["seq"] = cp.seq;
  j["kind"] = "checkpoint";
  j["ts_ms"] = cp.ts_ms;
  j["service"] = service_;
  j["segment"] = cp.segment;
  j["why"] = cp.why;
  j["final"] = final;
  j["seg_entries"] = cp.seg_entries;
  j["signer"] = cp.signer;
  j["prev_mac"] = cp.prev_mac;
  j["sig"] = Base64Encode(*sig);
  std::string text;
  CLOISTER_RETURN_IF_ERROR(WriteLocked(j, false, &text));
  // The head may name only a durable checkpoint, or a crash would make the
  // log look cut.
  CLOISTER_RETURN_IF_ERROR(SyncLocked());
  if (Status st = WriteFileAtomic(AuditHeadPath(path_), signer_line_ + "\n" + text + "\n", 0600);
      !st.ok()) {
    broken_ = true;
    return Unusable("cannot write the head: " + st.error().message());
  }
  entries_since_cp_ = 0;
  lines_since_cp_ = 0;
  last_cp_ = std::chrono::steady_clock::now();
  return OkStatus();
}

Status AuditLog::CreateSegmentLocked(uint64_t n, std::string_view why) {
  const std::string file = AuditSegmentPath(path_, n);
  auto fd = sys::OpenFd(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, 0600);
  if (!fd.ok()) {
    broken_ = true;
    return Unusable("cannot create " + file + ": " + fd.error().message());
  }
  fd_ = *std::move(fd);
  segment_ = n;
  segment_bytes_ = 0;
  segment_entries_ = 0;
  ordered_json j;
  j["seq"] = seq_;
  j["kind"] = "segment";
  j["ts_ms"] = NowMs();
  j["service"] = service_;
  j["segment"] = n;
  j["checkpoint_every"] = opts_.checkpoint_every_entries;
  j["prev_mac"] = prev_mac_;
  CLOISTER_RETURN_IF_ERROR(WriteLocked(j, false));
  CLOISTER_RETURN_IF_ERROR(WriteSignerLocked(why));
  CLOISTER_RETURN_IF_ERROR(SyncLocked());
  Status st = audit_files::FsyncDir(DirName(file));
  if (st.ok()) st = audit_files::PointLink(path_, FileName(file));
  if (!st.ok()) {
    broken_ = true;
    return Unusable(st.error().message());
  }
  return OkStatus();
}

Status AuditLog::RotateLocked(std::unique_lock<std::mutex>* lock) {
  // A group-commit sync may still be using the old descriptor. Wait first:
  // from the closing checkpoint to the new segment the lock is never let go,
  // so no entry can land after the checkpoint in the old segment.
  synced_cv_.wait(*lock, [this] { return !syncing_; });
  CLOISTER_RETURN_IF_ERROR(CheckpointLocked("rotate", true));
  fd_.Reset();
  return CreateSegmentLocked(segment_ + 1, "rotate");
}

// ---- appends ----

Status AuditLog::Append(const AuditEntry& e) {
  std::unique_lock<std::mutex> lock(mu_);
  if (broken_) return Unavailable("audit log failed earlier; refusing", "AUDIT_UNAVAILABLE");
  if (sealed() && segment_entries_ > 0) {
    // Rotate before the entry that would overflow the segment.
    size_t estimate = 600 + 34 * std::min(e.resources.size(), kMaxResources);
    for (const std::string* f : {&e.principal, &e.method, &e.decision, &e.reason, &e.request_id, &e.peer})
      estimate += std::min(f->size(), kMaxField) * 2;
    if (segment_entries_ >= opts_.segment_max_entries ||
        segment_bytes_ + estimate > opts_.segment_max_bytes)
      CLOISTER_RETURN_IF_ERROR(RotateLocked(&lock));
  }
  ordered_json j;
  j["seq"] = seq_;
  j["ts_ms"] = NowMs();
  j["service"] = service_;
  j["principal"] = Capped(e.principal);
  j["method"] = Capped(e.method);
  j["decision"] = Capped(e.decision);
  j["reason"] = Capped(e.reason);
  j["request_id"] = Capped(e.request_id);
  j["peer"] = Capped(e.peer);
  ordered_json res = ordered_json::array();
  for (size_t i = 0; i < e.resources.size() && i < kMaxResources; ++i)
    res.push_back(HexEncode(crypto::HmacSha256(resource_key_.view(), AsBytes(e.resources[i]))).substr(0, 32));
  j["resources"] = res;
  CLOISTER_RETURN_IF_ERROR(WriteLocked(j, true));
  if (sealed() && entries_since_cp_ >= opts_.checkpoint_every_entries)
    CLOISTER_RETURN_IF_ERROR(CheckpointLocked("count", false));
  const uint64_t mine = written_;
  if (!opts_.sync.sync_each) return OkStatus();  // the background thread makes it durable
  // Group commit: the first waiter syncs for everyone written so far; the
  // others wait for a sync that covers them.
  while (synced_ < mine) {
    if (broken_) return Unavailable("audit log sync failed", "AUDIT_UNAVAILABLE");
    if (!syncing_) {
      syncing_ = true;
      const uint64_t target = written_;
      const int fd = fd_.get();
      lock.unlock();
      int rc = ::fdatasync(fd);
      int err = errno;
      lock.lock();
      syncing_ = false;
      if (rc != 0) {
        broken_ = true;
        synced_cv_.notify_all();
        return ErrnoError(err, "audit fsync");
      }
      synced_ = std::max(synced_, target);
      synced_cv_.notify_all();
    } else {
      synced_cv_.wait(lock);
    }
  }
  return OkStatus();
}

Status AuditLog::Checkpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!sealed()) return FailedPrecondition("a plain audit log has no checkpoints");
  if (broken_) return Unavailable("audit log failed earlier; refusing", "AUDIT_UNAVAILABLE");
  if (lines_since_cp_ == 0) return OkStatus();
  return CheckpointLocked("time", false);
}

void AuditLog::Background() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto cp_period = std::chrono::milliseconds(opts_.checkpoint_every_ms);
  const auto sync_period = std::chrono::milliseconds(opts_.sync.interval_ms);
  // Checkpoint deadlines are checked four times per period.
  const auto cp_tick = std::max(std::chrono::milliseconds(1), cp_period / 4);
  const auto period = opts_.sync.sync_each ? cp_tick : std::min(cp_tick, sync_period);
  while (!stop_) {
    synced_cv_.wait_for(lock, period);
    if (stop_ || broken_) continue;
    if (!opts_.sync.sync_each && synced_ < written_ && !syncing_) {
      const uint64_t target = written_;
      const int fd = fd_.get();
      syncing_ = true;
      lock.unlock();
      int rc = ::fdatasync(fd);
      lock.lock();
      syncing_ = false;
      if (rc != 0) broken_ = true;  // every later Append is refused
      else synced_ = std::max(synced_, target);
      synced_cv_.notify_all();
    }
    // At least every T seconds while entries come in, so a cut tail or a
    // rewrite of the newest lines is exposed for at most T.
    if (sealed() && !broken_ && entries_since_cp_ > 0 &&
        std::chrono::steady_clock::now() - last_cp_ >= cp_period) {
      if (auto st = CheckpointLocked("time", false); !st.ok())
        Log(spdlog::level::err, "audit checkpoint failed", {{"error", st.ToString()}});
    }
  }
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  synced_cv_.notify_all();
  if (background_.joinable()) background_.join();
  std::unique_lock<std::mutex> lock(mu_);
  synced_cv_.wait(lock, [this] { return !syncing_; });
  if (!fd_.valid()) return;
  if (sealed() && !broken_) {
    // A clean shutdown: the final checkpoint tells a verifier nothing was
    // cut after it (and the head records it).
    if (auto st = CheckpointLocked("close", true); !st.ok())
      Log(spdlog::level::err, "audit close checkpoint failed", {{"error", st.ToString()}});
  }
  ::fdatasync(fd_.get());
}

Result<AuditVerifyReport> AuditLog::VerifyKeyed() const {
  AuditVerifyOptions o;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!sealed()) return FailedPrecondition("a plain audit log has no chain key");
    if (seq_ == 0) return AuditVerifyReport{.ok = true};
    o.until_seq = seq_ - 1;
  }
  o.mac_key = opts_.chain_key.view();
  o.expected_service = service_;
  o.require_head = true;
  return VerifyAuditLog(path_, o);
}

uint64_t AuditLog::next_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

}  // namespace cloister::services
