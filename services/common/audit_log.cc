// Hash-chained append-only audit log; see audit_log.h. Wraps POSIX
// open/write/fsync for durable appends.
#include "services/common/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto/hash.h"
#include "common/fs.h"

namespace cloister::services {
namespace {

using nlohmann::ordered_json;

const std::string kGenesis(64, '0');

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The chained hash covers the canonical line without its "hash" field.
std::string ChainHash(const std::string& prev, const std::string& canonical) {
  crypto::Sha256Hasher h;
  h.Update(std::string_view(prev));
  h.Update(std::string_view("\n"));
  h.Update(std::string_view(canonical));
  return HexEncode(h.Finish());
}

Result<ordered_json> ParseLine(const std::string& line) {
  ordered_json j = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return DataLoss("not a JSON object");
  for (const char* k : {"seq", "prev", "hash"})
    if (!j.contains(k)) return DataLoss(std::string("missing field '") + k + "'");
  if (!j["seq"].is_number_unsigned() || !j["prev"].is_string() || !j["hash"].is_string())
    return DataLoss("bad field types");
  return j;
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

AuditLog::AuditLog(Key, std::string path, std::string service, SecretBytes key, int fd,
                   uint64_t seq, std::string prev, AuditSyncPolicy sync)
    : path_(std::move(path)), service_(std::move(service)), key_(std::move(key)), fd_(fd),
      seq_(seq), prev_(std::move(prev)), sync_(sync) {
  if (!sync_.sync_each) flusher_ = std::thread([this] { FlushLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  synced_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

void AuditLog::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    synced_cv_.wait_for(lock, std::chrono::milliseconds(sync_.interval_ms));
    if (broken_ || synced_seq_ >= written_seq_ || syncing_) continue;
    const uint64_t target = written_seq_;
    syncing_ = true;
    lock.unlock();
    int rc = ::fdatasync(fd_);
    lock.lock();
    syncing_ = false;
    if (rc != 0) broken_ = true;  // every later Append is refused
    else synced_seq_ = std::max(synced_seq_, target);
  }
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, std::string service,
                                                 SecretBytes hmac_key, AuditSyncPolicy sync) {
  if (hmac_key.size() < 16) return InvalidArgument("audit HMAC key too short");
  uint64_t seq = 0;
  std::string prev = kGenesis;
  if (FileExists(path)) {
    // Continue the chain from a verified file: appending after a broken
    // entry would launder it.
    CLOISTER_ASSIGN_OR_RETURN(AuditVerifyReport rep, VerifyAuditLog(path));
    if (!rep.ok)
      return DataLoss("audit log " + path + " is broken at line " +
                      std::to_string(rep.first_bad_line) + ": " + rep.problem,
                      "AUDIT_LOG_BROKEN");
    CLOISTER_ASSIGN_OR_RETURN(std::string content, ReadFile(path, 1ull << 34));
    size_t end = content.size();
    while (end > 0 && content[end - 1] == '\n') --end;
    if (end > 0) {
      size_t start = content.rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      CLOISTER_ASSIGN_OR_RETURN(ordered_json last, ParseLine(content.substr(start, end - start)));
      seq = last["seq"].get<uint64_t>() + 1;
      prev = last["hash"].get<std::string>();
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(errno, "open audit log " + path);
  return std::make_unique<AuditLog>(Key(), path, std::move(service), std::move(hmac_key), fd, seq,
                                    std::move(prev), sync);
}

uint64_t AuditLog::next_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

Status AuditLog::Append(const AuditEntry& e) {
  std::unique_lock<std::mutex> lock(mu_);
  if (broken_) return Unavailable("audit log failed earlier; refusing", "AUDIT_UNAVAILABLE");
  ordered_json j;
  j["seq"] = seq_;
  j["ts_ms"] = NowMs();
  j["service"] = service_;
  j["principal"] = e.principal;
  j["method"] = e.method;
  j["decision"] = e.decision;
  j["reason"] = e.reason;
  j["request_id"] = e.request_id;
  j["peer"] = e.peer;
  ordered_json res = ordered_json::array();
  for (const auto& r : e.resources)
    res.push_back(HexEncode(crypto::HmacSha256(key_.view(), AsBytes(r))).substr(0, 32));
  j["resources"] = res;
  j["prev"] = prev_;
  std::string canonical = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string hash = ChainHash(prev_, canonical);
  j["hash"] = hash;
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // The write happens under the lock so lines never interleave and the
  // chain order is the file order; a write that fails poisons the log
  // (a later entry would chain to one that is not there).
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      broken_ = true;
      return ErrnoError(errno, "audit append").WithContext("audit log unavailable");
    }
    done += static_cast<size_t>(n);
  }
  prev_ = hash;
  ++seq_;
  const uint64_t mine = ++written_seq_;
  if (!sync_.sync_each) return OkStatus();  // the flusher makes it durable
  // Group commit: the first waiter syncs for everyone written so far; the
  // others wait for a sync that covers them.
  while (synced_seq_ < mine) {
    if (broken_) return Unavailable("audit log sync failed", "AUDIT_UNAVAILABLE");
    if (!syncing_) {
      syncing_ = true;
      const uint64_t target = written_seq_;
      lock.unlock();
      int rc = ::fdatasync(fd_);
      int err = errno;
      lock.lock();
      syncing_ = false;
      if (rc != 0) {
        broken_ = true;
        synced_cv_.notify_all();
        return ErrnoError(err, "audit fsync");
      }
      synced_seq_ = std::max(synced_seq_, target);
      synced_cv_.notify_all();
    } else {
      synced_cv_.wait(lock);
    }
  }
  return OkStatus();
}

Result<AuditVerifyReport> VerifyAuditLog(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(std::string content, ReadFile(path, 1ull << 34));
  AuditVerifyReport rep;
  std::istringstream in(content);
  std::string line;
  std::string prev = kGenesis;
  uint64_t expect_seq = 0;
  int64_t lineno = 0;
  auto fail = [&](std::string why) {
    rep.ok = false;
    rep.first_bad_line = lineno;
    rep.problem = std::move(why);
    return rep;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) return fail("empty line");
    auto j = ParseLine(line);
    if (!j.ok()) return fail(j.error().message());
    uint64_t seq = (*j)["seq"].get<uint64_t>();
    if (seq != expect_seq)
      return fail("sequence " + std::to_string(seq) + " where " + std::to_string(expect_seq) +
                  " was expected (entry deleted, inserted or reordered)");
    if ((*j)["prev"].get<std::string>() != prev)
      return fail("previous-hash link broken (entry deleted, inserted or reordered)");
    std::string hash = (*j)["hash"].get<std::string>();
    j->erase("hash");
    std::string canonical = j->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (ChainHash(prev, canonical) != hash) return fail("entry content does not match its hash (edited)");
    prev = hash;
    ++expect_seq;
    ++rep.entries;
  }
  if (!content.empty() && content.back() != '\n') {
    ++lineno;
    return fail("truncated final entry");
  }
  rep.ok = true;
  return rep;
}

}  // namespace cloister::services
