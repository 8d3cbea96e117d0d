// Monotonic counters of the emulated platform (SGX/TPM monotonic counters),
// so a service can detect that its database was rolled back: the table the
// daemon keeps (CounterTable, persisted in DIR/platform/counters), the
// interface enclaves use (MonotonicCounters, implemented by PlatformClient),
// and an in-process implementation for unit tests (InProcessCounters).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto table, CounterTable::Open(PlatformPaths::For(dir).counters));
//   CLOISTER_ASSIGN_OR_RETURN(uint64_t v, table->Advance(owner, "db.epoch", 7));
//
// proto/attestation.proto (CounterRequest) is the contract.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/thread_annotations.h"

namespace cloister::attestation {

inline constexpr size_t kMaxCounterNameSize = 64;
inline constexpr size_t kMaxCountersPerOwner = 64;
inline constexpr size_t kMaxCountersTotal = 4096;
inline constexpr const char* kPlatformCountersFull = "PLATFORM_COUNTERS_FULL";
inline constexpr const char* kPlatformCountersIo = "PLATFORM_COUNTERS_IO";

// 1..64 bytes of [A-Za-z0-9._:-]: InvalidArgument [PLATFORM_BAD_REQUEST]
// otherwise. Also keeps names free of the file format's separators.
Status CheckCounterName(std::string_view name);

// Whose counters: the MRSIGNER identity (signer + product id), so an
// upgraded binary of one product keeps them and other products are apart.
struct CounterOwner {
  crypto::Digest signer{};
  uint32_t product_id = 0;
  auto operator<=>(const CounterOwner&) const = default;
};

// The node's counters. Thread-safe: one mutex serialises every request,
// including the file write of an advance, so two advances never race on
// the file and the file never holds a value older than one returned.
//
// File format (DIR/platform/counters, mode 0600, at most kMaxCounterFileBytes),
// ASCII lines ending in '\n':
//   cloister-counters v1
//   <signer: 64 lowercase hex> <product id: decimal u32> <name> <value: decimal u64>
//   ...                                      (sorted by owner, then name)
//   end <number of counter lines>
// Numbers have no sign and no leading zeros. A missing file is an empty
// table (a node before its first advance). Anything else — an unknown
// version, a bad field, a duplicate, more counters than the limits, a
// missing or wrong `end` line, bytes after it — is refused:
// FailedPrecondition [PLATFORM_STATE_INVALID].
class CounterTable {
 public:
  static constexpr size_t kMaxCounterFileBytes = 1u << 20;

  // Loads `path` (see above), or starts empty if it does not exist.
  // FailedPrecondition [INSECURE_PERMISSIONS] if group/other may read or write it.
  static Result<std::unique_ptr<CounterTable>> Open(const std::string& path);
  // Never persisted (tests; a platform without a state directory).
  static std::unique_ptr<CounterTable> InMemory();

  // The file's content for `counters` (exposed for the format tests).
  using Map = std::map<CounterOwner, std::map<std::string, uint64_t, std::less<>>>;
  static std::string Serialize(const Map& counters);
  static Result<Map> Parse(std::string_view text);

  // 0 for a counter never advanced. InvalidArgument [PLATFORM_BAD_REQUEST]
  // for a bad name.
  Result<uint64_t> Read(const CounterOwner& owner, std::string_view name) const;
  // Sets the counter to max(current, to) and returns it. When the value
  // changes, the file is replaced and fsynced (file and directory) before
  // this returns; on a write error nothing changes (Unavailable
  // [PLATFORM_COUNTERS_IO]). ResourceExhausted [PLATFORM_COUNTERS_FULL]
  // when a new counter would exceed kMaxCountersPerOwner or kMaxCountersTotal.
  Result<uint64_t> Advance(const CounterOwner& owner, std::string_view name, uint64_t to);

  // How many file writes this table made (tests: no write without a change).
  uint64_t writes() const;

 private:
  struct Key {  // only Open() and InMemory() make tables
    explicit Key() = default;
  };

 public:
  CounterTable(Key, std::string path, Map counters, size_t total);

 private:

  const std::string path_;  // "" = in memory only
  mutable std::mutex mu_;
  Map counters_ CLOISTER_GUARDED_BY(mu_);
  size_t total_ CLOISTER_GUARDED_BY(mu_) = 0;
  uint64_t writes_ CLOISTER_GUARDED_BY(mu_) = 0;
};

// What an enclave needs of the platform's counters. PlatformClient is the
// real one; InProcessCounters stands in for it in unit tests.
class MonotonicCounters {
 public:
  virtual ~MonotonicCounters() = default;
  // The caller's monotonic counter `name` (0 if never advanced).
  virtual Result<uint64_t> ReadCounter(std::string_view name) = 0;
  // Sets the counter to max(current, to) and returns the new value. The
  // value is durable before this returns. Never decreases.
  virtual Result<uint64_t> AdvanceCounter(std::string_view name, uint64_t to) = 0;
};

// The daemon's semantics (names, limits, never decreasing, durable) for one
// fixed owner, without a daemon: for services' unit tests. In memory, or
// persisted in a file of the daemon's format (so a test can "restart" by
// opening the same path again, or roll the file back to test detection).
class InProcessCounters final : public MonotonicCounters {
 public:
  explicit InProcessCounters(CounterOwner owner = {})
      : owner_(owner), table_(CounterTable::InMemory()) {}
  static Result<InProcessCounters> Open(const std::string& path, CounterOwner owner = {});

  Result<uint64_t> ReadCounter(std::string_view name) override { return table_->Read(owner_, name); }
  Result<uint64_t> AdvanceCounter(std::string_view name, uint64_t to) override {
    return table_->Advance(owner_, name, to);
  }
  CounterTable& table() { return *table_; }

 private:
  InProcessCounters(CounterOwner owner, std::unique_ptr<CounterTable> table)
      : owner_(owner), table_(std::move(table)) {}
  CounterOwner owner_;
  std::unique_ptr<CounterTable> table_;
};

}  // namespace cloister::attestation
