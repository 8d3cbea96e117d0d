// The audit log: plain chains (component tests' mode), and the sealed log
// services use — keyed MACs, signed checkpoints, the head, segments, tail
// -only start-up — against each way of tampering, each named by reason.
#include "services/common/audit_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "common/crypto/hash.h"
#include "common/fs.h"
#include "services/common/audit_files.h"

namespace cloister::services {
namespace {

namespace fs = std::filesystem;
namespace r = audit_reason;
using nlohmann::ordered_json;

std::vector<std::string> LinesOf(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(*ReadFile(path, 1ull << 30));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  ASSERT_TRUE(WriteFileAtomic(path, s, 0600).ok());
}

// An edit that keeps the line valid JSON: allow <-> deny.
void Flip(std::string& line) {
  if (auto pos = line.find("\"allow\""); pos != std::string::npos) line.replace(pos, 7, "\"deny\" ");
  else line.replace(line.find("\"deny\""), 6, "\"allow\"");
}

AuditEntry Entry(int i) {
  AuditEntry e;
  e.principal = "u-" + std::to_string(i);
  e.method = "/cloister.api.Exec/Call";
  e.decision = i % 2 ? "deny" : "allow";
  e.resources = {"secret-file-name-" + std::to_string(i)};
  return e;
}

// What an attacker who can write the files (but holds neither the chain
// key nor the attested key) does: recompute every seq, prev and hash. With
// `key` it also brings its own signer, re-signing every checkpoint.
struct Forger {
  std::optional<crypto::PrivateKey> key;
  std::optional<crypto::Certificate> cert;

  std::vector<std::string> Rechain(const std::vector<std::string>& lines) const {
    std::vector<std::string> out;
    std::string prev;
    uint64_t seq = 0, entries = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      ordered_json j = ordered_json::parse(lines[i]);
      const std::string kind = j.value("kind", "");
      if (i == 0) {
        prev = j["prev"].get<std::string>();
        seq = j["seq"].get<uint64_t>();
        if (kind == "checkpoint") entries = j["seg_entries"].get<uint64_t>();
      }
      j["seq"] = seq++;
      if (kind == "segment") entries = 0;
      if (kind.empty()) ++entries;
      if (kind == "checkpoint") j["seg_entries"] = entries;
      const std::string mac = j.value("mac", "");
      j.erase("prev");
      j.erase("mac");
      j.erase("hash");
      if (key && kind == "signer") {
        j["key_id"] = AuditKeyId(key->public_key());
        j["cert"] = Base64Encode(cert->Der());
      }
      if (key && kind == "checkpoint") {
        AuditLine cp;
        cp.service = j["service"].get<std::string>();
        cp.segment = j["segment"].get<uint64_t>();
        cp.seq = j["seq"].get<uint64_t>();
        cp.ts_ms = j["ts_ms"].get<int64_t>();
        cp.why = j["why"].get<std::string>();
        cp.final = j["final"].get<bool>();
        cp.seg_entries = j["seg_entries"].get<uint64_t>();
        cp.signer = AuditKeyId(key->public_key());
        cp.prev = prev;
        cp.prev_mac = j["prev_mac"].get<std::string>();
        j["signer"] = cp.signer;
        j["sig"] = Base64Encode(*key->Sign(AsBytes(CheckpointStatement(cp))));
      }
      std::string s = j.dump();
      s.pop_back();
      s += ",\"prev\":\"" + prev + "\"";
      if (!mac.empty()) s += ",\"mac\":\"" + mac + "\"";
      const std::string hash = HexEncode(crypto::Sha256(prev + "\n" + s + "}"));
      s += ",\"hash\":\"" + hash + "\"}";
      prev = hash;
      out.push_back(s);
    }
    return out;
  }
};

crypto::Certificate SelfSigned(const crypto::PrivateKey& key) {
  crypto::CertOptions o;
  o.common_name = "audit-test";
  o.not_after = time(nullptr) + 3600;
  return *crypto::Certificate::Create(o, key.public_key(), key, nullptr);
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cloister-audit-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/gateway.log";
    chain_key_ = SecretBytes::Random(32);
    resource_key_ = SecretBytes::Random(32);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A sealed log as a service opens it: each open is a new process with a
  // new attested key (here: a fresh pinned ECDSA key).
  AuditLogOptions Options() {
    auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
    keys_.push_back(key.public_key());
    auto cert = SelfSigned(key);
    AuditLogOptions o;
    o.chain_key = chain_key_;
    o.signer = MakeKeyAuditSigner(key, [cert] { return cert; });
    o.checkpoint_every_entries = every_;
    o.checkpoint_every_ms = 3'600'000;  // only counted checkpoints, unless a test says so
    o.segment_max_entries = seg_entries_;
    o.segment_max_bytes = seg_bytes_;
    return o;
  }
  std::unique_ptr<AuditLog> OpenSealed() {
    auto log = AuditLog::Open(path_, "gateway", resource_key_, Options());
    EXPECT_TRUE(log.ok()) << log.error().ToString();
    return log.ok() ? *std::move(log) : nullptr;
  }
  void WriteSealed(int n, int first = 0) {
    auto log = OpenSealed();
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log->Append(Entry(first + i)).ok());
  }
  // What `cloister audit verify` checks: hashes, structure, signatures, head.
  AuditVerifyReport Cli() {
    AuditVerifyOptions o;
    o.trust = PinnedKeyTrust(keys_);
    o.require_signed = true;
    o.require_head = true;
    o.expected_service = "gateway";
    auto rep = VerifyAuditLog(path_, o);
    EXPECT_TRUE(rep.ok()) << rep.error().ToString();
    return rep.ok() ? *rep : AuditVerifyReport{};
  }
  AuditVerifyReport Keyed() {
    AuditVerifyOptions o;
    o.trust = PinnedKeyTrust(keys_);
    o.mac_key = chain_key_.view();
    o.require_head = true;
    return *VerifyAuditLog(path_, o);
  }
  std::string Seg(uint64_t n) const { return AuditSegmentPath(path_, n); }
  // Index of the first entry line at or after `from` in `lines`.
  static size_t EntryAt(const std::vector<std::string>& lines, size_t from) {
    for (size_t i = from; i < lines.size(); ++i)
      if (lines[i].find("\"kind\"") == std::string::npos) return i;
    return lines.size();
  }
  // Copies the audit files as a crash would leave them (the log still open).
  void Snapshot(const std::string& to) {
    fs::create_directories(to);
    for (const auto& e : fs::directory_iterator(dir_))
      if (!fs::is_symlink(e.symlink_status())) fs::copy(e.path(), to + "/" + e.path().filename().string());
  }
  void Restore(const std::string& from) {
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().rfind("gateway.log", 0) == 0) fs::remove(e.path());
    for (const auto& e : fs::directory_iterator(from))
      fs::copy(e.path(), dir_ + "/" + e.path().filename().string());
  }

  std::string dir_, path_;
  SecretBytes chain_key_, resource_key_;
  std::vector<crypto::PublicKey> keys_;
  uint64_t every_ = 10, seg_entries_ = 1'000'000, seg_bytes_ = 64ull << 20;
};

// ---- plain logs (the mode of other components' tests) ----

class PlainAuditLogTest : public AuditLogTest {
 protected:
  void WriteEntries(int n) {
    auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32));
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    for (int i = 0; i < n; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
  }
  AuditVerifyReport Verify() { return *VerifyAuditLog(path_); }
};

TEST_F(PlainAuditLogTest, ChainContinuesAcrossReopen) {
  WriteEntries(3);
  WriteEntries(2);
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 5u);
  EXPECT_EQ(LinesOf(path_).size(), 5u);  // no header or checkpoint lines
  // Identifiers are HMAC'd, never written in the clear.
  EXPECT_EQ(ReadFile(path_)->find("secret-file-name"), std::string::npos);
}

TEST_F(PlainAuditLogTest, EditedDeletedReorderedNamedByLine) {
  WriteEntries(5);
  const auto orig = LinesOf(path_);
  auto lines = orig;
  Flip(lines[2]);
  WriteLines(path_, lines);
  auto r = Verify();
  EXPECT_EQ(r.reason, r::kEntryEdited);
  EXPECT_EQ(r.first_bad_line, 3);

  lines = orig;
  lines.erase(lines.begin() + 1);
  WriteLines(path_, lines);
  r = Verify();
  EXPECT_EQ(r.reason, r::kEntryDeleted);
  EXPECT_EQ(r.first_bad_line, 2);

  lines = orig;
  std::swap(lines[3], lines[4]);
  WriteLines(path_, lines);
  r = Verify();
  EXPECT_EQ(r.reason, r::kReordered);
  EXPECT_EQ(r.first_bad_line, 4);
}

TEST_F(PlainAuditLogTest, ReopenRefusesBrokenOrCutLog) {
  WriteEntries(3);
  auto lines = LinesOf(path_);
  lines[0][10] = lines[0][10] == '1' ? '2' : '1';
  WriteLines(path_, lines);
  auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().reason(), r::kEntryEdited);

  fs::remove(path_);
  WriteEntries(3);
  std::string content = *ReadFile(path_);
  ASSERT_TRUE(WriteFileAtomic(path_, content.substr(0, content.size() - 10), 0600).ok());
  EXPECT_EQ(Verify().reason, r::kTruncated);
  EXPECT_EQ(AuditLog::Open(path_, "gateway", SecretBytes::Random(32)).error().reason(), r::kTruncated);
}

TEST_F(PlainAuditLogTest, IntervalModeWritesAtOnceAndSyncsInTheBackground) {
  auto policy = AuditSyncPolicy::Parse("interval");
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE(policy->sync_each);
  EXPECT_FALSE(AuditSyncPolicy::Parse("sometimes").ok());
  {
    auto log = AuditLog::Open(path_, "gateway", SecretBytes::Random(32), *policy);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
    // Written (visible to a reader, survives kill -9) before any sync.
    auto mid = VerifyAuditLog(path_);
    ASSERT_TRUE(mid.ok());
    EXPECT_TRUE(mid->ok);
    EXPECT_EQ(mid->entries, 50u);
  }
  WriteEntries(2);
  auto r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 52u);
}

// ---- sealed logs ----

TEST_F(AuditLogTest, SealedLogIsSignedSegmentedAndClosed) {
  WriteSealed(25);
  WriteSealed(3, 25);
  auto r = Cli();
  ASSERT_TRUE(r.ok) << r.reason << " " << r.problem;
  EXPECT_EQ(r.entries, 28u);
  EXPECT_TRUE(r.signatures_checked);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.head, "matched");
  EXPECT_EQ(r.unsigned_tail_lines, 0u);
  EXPECT_EQ(r.signed_through_seq, r.last_seq);
  // start, 2 counted, close; start, close.
  EXPECT_EQ(r.checkpoints, 6u);
  EXPECT_TRUE(fs::is_symlink(path_));
  EXPECT_EQ(fs::read_symlink(path_).string(), "gateway.log.000001");
  EXPECT_TRUE(FileExists(AuditHeadPath(path_)));
  EXPECT_EQ(ReadFile(Seg(1))->find("secret-file-name"), std::string::npos);
  EXPECT_TRUE(Keyed().ok) << Keyed().problem;
}

TEST_F(AuditLogTest, EditedEntryNamed) {
  WriteSealed(25);
  auto lines = LinesOf(Seg(1));
  const size_t i = EntryAt(lines, 5);
  Flip(lines[i]);
  WriteLines(Seg(1), lines);
  auto r = Cli();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, r::kEntryEdited);
  EXPECT_EQ(r.bad_file, Seg(1));
  EXPECT_EQ(r.first_bad_line, static_cast<int64_t>(i) + 1);
}

TEST_F(AuditLogTest, EditedEntryWithItsHashRecomputedNamed) {
  WriteSealed(25);
  auto lines = LinesOf(Seg(1));
  const size_t i = EntryAt(lines, 5);
  auto j = ordered_json::parse(lines[i]);
  j["decision"] = "allow-everything";
  lines[i] = Forger{}.Rechain({j.dump()})[0];  // its own hash recomputed, the next line's link not
  WriteLines(Seg(1), lines);
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kEntryEdited);
  EXPECT_EQ(r.first_bad_line, static_cast<int64_t>(i) + 1);
  EXPECT_NE(std::find(r.reasons.begin(), r.reasons.end(), r::kChainBroken), r.reasons.end());
}

TEST_F(AuditLogTest, DeletedEntryNamed) {
  WriteSealed(25);
  auto lines = LinesOf(Seg(1));
  const size_t i = EntryAt(lines, 5);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
  WriteLines(Seg(1), lines);
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kEntryDeleted);
  EXPECT_EQ(r.first_bad_line, static_cast<int64_t>(i) + 1);
}

TEST_F(AuditLogTest, ReorderedPairNamed) {
  WriteSealed(25);
  auto lines = LinesOf(Seg(1));
  const size_t i = EntryAt(lines, 5);
  std::swap(lines[i], lines[i + 1]);
  WriteLines(Seg(1), lines);
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kReordered);
  EXPECT_EQ(r.first_bad_line, static_cast<int64_t>(i) + 1);
}

TEST_F(AuditLogTest, TruncatedTailNamedByTheHead) {
  WriteSealed(25);
  const std::string dir_copy = dir_ + "-orig";
  Snapshot(dir_copy);
  auto lines = LinesOf(Seg(1));
  lines.resize(lines.size() - 6);  // the close checkpoint and entries before it
  WriteLines(Seg(1), lines);
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kTruncated) << r.problem;
  EXPECT_EQ(r.first_bad_line, -1);
  // The service refuses it too, by the same head.
  auto log = AuditLog::Open(path_, "gateway", resource_key_, Options());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().reason(), r::kTruncated);
  // Deleting the head as well is named.
  fs::remove(AuditHeadPath(path_));
  EXPECT_EQ(Cli().reason, r::kHeadMissing);
  EXPECT_EQ(AuditLog::Open(path_, "gateway", resource_key_, Options()).error().reason(),
            r::kHeadMissing);
  // Cut inside a line.
  Restore(dir_copy);
  std::string content = *ReadFile(Seg(1));
  ASSERT_TRUE(WriteFileAtomic(Seg(1), content.substr(0, content.size() - 20), 0600).ok());
  EXPECT_EQ(Cli().reason, r::kTruncated);
  fs::remove_all(dir_copy);
}

TEST_F(AuditLogTest, RewriteWithRecomputedChainFailsItsSignatures) {
  WriteSealed(25);
  auto lines = LinesOf(Seg(1));
  // Remove a "deny" and renumber everything after it, chain recomputed.
  const size_t i = EntryAt(lines, 5);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
  auto forged = Forger{}.Rechain(lines);
  WriteLines(Seg(1), forged);
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kRewritten) << r.problem;
  EXPECT_NE(std::find(r.reasons.begin(), r.reasons.end(), r::kSignatureInvalid), r.reasons.end());
  EXPECT_GT(r.first_bad_line, static_cast<int64_t>(i));
}

TEST_F(AuditLogTest, RewriteWithTheAttackersOwnKeyIsUntrusted) {
  WriteSealed(25);
  Forger f;
  f.key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  f.cert = SelfSigned(*f.key);
  auto lines = LinesOf(Seg(1));
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(EntryAt(lines, 5)));
  auto forged = f.Rechain(lines);
  WriteLines(Seg(1), forged);
  // Its head, re-signed as well.
  std::string signer_line, last_cp;
  for (const auto& l : forged) {
    if (l.find("\"kind\":\"signer\"") != std::string::npos) signer_line = l;
    if (l.find("\"kind\":\"checkpoint\"") != std::string::npos) last_cp = l;
  }
  ASSERT_TRUE(WriteFileAtomic(AuditHeadPath(path_), signer_line + "\n" + last_cp + "\n", 0600).ok());
  // Structurally perfect (without trust it would pass)...
  auto plain = *VerifyAuditLog(path_);
  EXPECT_TRUE(plain.ok) << plain.problem;
  // ...but the key is not one the verifier trusts.
  auto r = Cli();
  EXPECT_EQ(r.reason, r::kSignerUntrusted) << r.problem;
  // And the service itself sees lines its chain key never MAC'd.
  EXPECT_EQ(Keyed().reason, r::kMacInvalid);
}

// The layering, precisely: lines after the last checkpoint are vouched for
// only by the keyed MAC, which the service checks (at start, VerifyKeyed).
TEST_F(AuditLogTest, UnsignedTailRewriteIsCaughtByTheKeyedMacOnly) {
  const std::string crash = dir_ + "-crash";
  {
    auto log = OpenSealed();
    for (int i = 0; i < 14; ++i) ASSERT_TRUE(log->Append(Entry(i)).ok());
    Snapshot(crash);  // killed here: 4 entries after the last checkpoint
  }
  Restore(crash);
  auto clean = Cli();
  ASSERT_TRUE(clean.ok) << clean.problem;
  EXPECT_FALSE(clean.closed);
  EXPECT_EQ(clean.unsigned_tail_lines, 4u);
  // Rewrite the unsigned tail: drop one entry, recompute the chain.
  auto lines = LinesOf(Seg(1));
  lines.erase(lines.end() - 2);
  std::vector<std::string> tail(lines.end() - 3, lines.end());
  std::vector<std::string> with_anchor = {lines[lines.size() - 4]};
  with_anchor.insert(with_anchor.end(), tail.begin(), tail.end());
  auto forged = Forger{}.Rechain(with_anchor);
  std::copy(forged.begin() + 1, forged.end(), lines.end() - 3);
  WriteLines(Seg(1), lines);
  EXPECT_TRUE(Cli().ok) << "the CLI cannot see this; it reports 3 unsigned lines instead";
  EXPECT_EQ(Keyed().reason, r::kMacInvalid);
  auto reopen = AuditLog::Open(path_, "gateway", resource_key_, Options());
  ASSERT_FALSE(reopen.ok());
  EXPECT_EQ(reopen.error().reason(), r::kMacInvalid);
  fs::remove_all(crash);
}

TEST_F(AuditLogTest, ReopenWithAnotherChainKeyIsRefused) {
  WriteSealed(5);
  chain_key_ = SecretBytes::Random(32);
  auto log = AuditLog::Open(path_, "gateway", resource_key_, Options());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().reason(), r::kMacInvalid);
}

TEST_F(AuditLogTest, SegmentsRotateAndAMissingOrCutSegmentIsNamed) {
  seg_entries_ = 7;
  every_ = 3;
  WriteSealed(30);
  WriteSealed(10, 30);
  auto segs = audit_files::ListSegments(path_);
  ASSERT_GE(segs.size(), 6u);
  EXPECT_EQ(segs.front(), 1u);
  EXPECT_EQ(fs::read_symlink(path_).string(), fs::path(Seg(segs.back())).filename().string());
  auto r = Cli();
  ASSERT_TRUE(r.ok) << r.reason << " " << r.problem;
  EXPECT_EQ(r.entries, 40u);
  EXPECT_EQ(r.segments, segs.size());
  EXPECT_TRUE(Keyed().ok);
  // Each segment starts with its header and a signer line: a copy of one
  // segment verifies on its own.
  auto alone = *VerifyAuditLog(Seg(3), {.trust = PinnedKeyTrust(keys_), .require_signed = true});
  EXPECT_TRUE(alone.ok) << alone.problem;

  const std::string orig = dir_ + "-orig";
  Snapshot(orig);
  fs::remove(Seg(3));
  r = Cli();
  EXPECT_EQ(r.reason, r::kSegmentMissing);
  EXPECT_EQ(r.bad_file, Seg(4));
  Restore(orig);
  fs::remove(Seg(1));
  EXPECT_EQ(Cli().reason, r::kSegmentMissing);
  Restore(orig);
  auto lines = LinesOf(Seg(2));
  lines.pop_back();  // its closing checkpoint
  WriteLines(Seg(2), lines);
  r = Cli();
  EXPECT_EQ(r.reason, r::kTruncated);
  EXPECT_EQ(r.bad_file, Seg(2));
  // The newest segments gone: the service refuses by the head.
  Restore(orig);
  fs::remove(Seg(segs.back()));
  EXPECT_EQ(Cli().reason, r::kTruncated);
  EXPECT_EQ(AuditLog::Open(path_, "gateway", resource_key_, Options()).error().reason(),
            r::kTruncated);
  fs::remove_all(orig);
}

TEST_F(AuditLogTest, StartReadsOnlyTheTailOfTheCurrentSegment) {
  every_ = 100;
  WriteSealed(3000);
  const uint64_t size = fs::file_size(Seg(1));
  {
    auto log = OpenSealed();
    ASSERT_NE(log, nullptr);
    const AuditOpenStats& s = log->open_stats();
    EXPECT_EQ(s.segment, 1u);
    // From the close checkpoint of the last run: a few lines, not the file.
    EXPECT_LE(s.tail_lines, 3u);
    EXPECT_LT(s.tail_bytes_read, 70'000u);
    EXPECT_GT(size, 1'000'000u);
  }
  // A crash leaves up to N-1 entries after the last checkpoint: read those.
  const std::string crash = dir_ + "-crash";
  {
    auto log = OpenSealed();
    for (int i = 0; i < 150; ++i) ASSERT_TRUE(log->Append(Entry(i)).ok());
    Snapshot(crash);
  }
  Restore(crash);
  auto log = OpenSealed();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->open_stats().tail_lines, 51u);  // the checkpoint and 50 entries
  fs::remove_all(crash);
}

TEST_F(AuditLogTest, TimedCheckpointSignsAnIdleTail) {
  auto o = Options();
  o.checkpoint_every_ms = 40;
  auto log = AuditLog::Open(path_, "gateway", resource_key_, std::move(o));
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = Cli();
  ASSERT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.unsigned_tail_lines, 0u);
  EXPECT_EQ(r.head, "matched");
  auto keyed = (*log)->VerifyKeyed();
  ASSERT_TRUE(keyed.ok());
  EXPECT_TRUE(keyed->ok) << keyed->problem;
}

TEST_F(AuditLogTest, PlainLogIsMigratedIntoSegmentZeroAndCovered) {
  {
    auto plain = AuditLog::Open(path_, "gateway", SecretBytes::Random(32));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE((*plain)->Append(Entry(i)).ok());
  }
  {
    auto log = OpenSealed();
    ASSERT_NE(log, nullptr);
    EXPECT_TRUE(log->open_stats().migrated_plain_log);
    ASSERT_TRUE(log->Append(Entry(4)).ok());
  }
  EXPECT_TRUE(FileExists(Seg(0)));
  auto r = Cli();
  ASSERT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 5u);
  EXPECT_EQ(r.first_segment, 0u);
  // An edit of the old plain part after migration fails the signatures.
  auto lines = LinesOf(Seg(0));
  auto j = ordered_json::parse(lines[1]);
  j["decision"] = "allow-all";
  lines[1] = j.dump();
  WriteLines(Seg(0), Forger{}.Rechain(lines));
  EXPECT_EQ(Cli().reason, r::kEntryEdited);  // segment 1's header still links to the original
}

TEST_F(AuditLogTest, FailsClosedWhenACheckpointCannotBeRecorded) {
  auto log = OpenSealed();
  ASSERT_NE(log, nullptr);
  fs::remove(AuditHeadPath(path_));
  fs::create_directory(AuditHeadPath(path_));  // the head can no longer be replaced
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(log->Append(Entry(i)).ok());
  Status st = log->Append(Entry(9));  // the 10th entry's checkpoint fails
  EXPECT_EQ(st.error().reason(), "AUDIT_UNAVAILABLE");
  EXPECT_EQ(log->Append(Entry(10)).error().reason(), "AUDIT_UNAVAILABLE");
  fs::remove_all(AuditHeadPath(path_));
}

TEST_F(AuditLogTest, ConcurrentAppendsAcrossRotationsStayOneChain) {
  seg_entries_ = 50;
  every_ = 13;
  {
    auto log = OpenSealed();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 100; ++i) EXPECT_TRUE(log->Append(Entry(t * 1000 + i)).ok());
      });
    for (auto& th : threads) th.join();
  }
  auto r = Cli();
  ASSERT_TRUE(r.ok) << r.reason << " " << r.problem;
  EXPECT_EQ(r.entries, 400u);
  EXPECT_GE(r.segments, 8u);
}

TEST_F(AuditLogTest, IntervalSyncSealedLog) {
  auto o = Options();
  o.sync = *AuditSyncPolicy::Parse("interval");
  {
    auto log = AuditLog::Open(path_, "gateway", resource_key_, std::move(o));
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE((*log)->Append(Entry(i)).ok());
  }
  EXPECT_TRUE(Cli().ok);
}

TEST_F(AuditLogTest, LevelOneCheckpointsUseTheClusterSecret) {
  SecretBytes secret = SecretBytes::Random(32);
  AuditLogOptions o;
  o.chain_key = chain_key_;
  o.signer = MakeSecretAuditSigner(secret.view(), "gateway");
  {
    auto log = AuditLog::Open(path_, "gateway", resource_key_, std::move(o));
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Entry(1)).ok());
  }
  auto ok = *VerifyAuditLog(path_, {.trust = SecretSignerTrust(secret), .require_signed = true});
  EXPECT_TRUE(ok.ok) << ok.problem;
  auto other = *VerifyAuditLog(path_, {.trust = SecretSignerTrust(SecretBytes::Random(32))});
  EXPECT_EQ(other.reason, r::kSignerUntrusted);
  // The ECDSA trust refuses an HMAC signer line.
  EXPECT_EQ(Cli().reason, r::kSignerUntrusted);
}

TEST(AuditFormatTest, ParserRefusesMalformedLines) {
  const std::string ok = BuildAuditLine({{"seq", 0}}, kAuditGenesis, {}, "").text;
  EXPECT_TRUE(ParseAuditLine(ok).ok());
  for (std::string bad : {std::string(""), std::string("{}"), std::string("[1,2]"),
                          ok.substr(0, ok.size() - 1), std::string(2 << 20, '{'),
                          "{\"a\":[[1]]," + ok.substr(1), "{\"seq\":1," + ok.substr(1),
                          "{\"kind\":\"nope\",\"segment\":1," + ok.substr(1)}) {
    auto r = ParseAuditLine(bad);
    ASSERT_FALSE(r.ok()) << bad.substr(0, 80);
    EXPECT_EQ(r.error().reason(), r::kLineMalformed);
  }
  EXPECT_EQ(AuditSegmentNumber("a.log", "a.log.000012"), 12u);
  EXPECT_FALSE(AuditSegmentNumber("a.log", "a.log.12"));
  EXPECT_FALSE(AuditSegmentNumber("a.log", "a.log.head"));
  EXPECT_EQ(AuditSegmentPath("x/a.log", 3), "x/a.log.000003");
}

}  // namespace
}  // namespace cloister::services
