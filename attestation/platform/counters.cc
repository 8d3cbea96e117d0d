// The platform's monotonic counter table and its file format; see counters.h.
#include "attestation/platform/counters.h"

#include <charconv>

#include "attestation/platform/platform_state.h"
#include "attestation/platform/protocol.h"
#include "common/fs.h"
#include "common/sys/atomic_file.h"

namespace cloister::attestation {
namespace {

constexpr std::string_view kHeader = "cloister-counters v1";

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

Error Malformed(size_t line, const std::string& why) {
  return FailedPrecondition("counters file line " + std::to_string(line) + ": " + why,
                            kPlatformStateInvalid);
}

// Strict decimal: digits only, no leading zero (except "0"), no overflow.
template <typename T>
bool ParseDecimal(std::string_view s, T& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits on single spaces into exactly `n` non-empty fields.
bool SplitFields(std::string_view line, std::string_view* fields, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const size_t sp = line.find(' ');
    const bool last = i + 1 == n;
    if (last != (sp == std::string_view::npos)) return false;
    fields[i] = last ? line : line.substr(0, sp);
    if (fields[i].empty()) return false;
    if (!last) line.remove_prefix(sp + 1);
  }
  return true;
}

}  // namespace

Status CheckCounterName(std::string_view name) {
  if (name.empty() || name.size() > kMaxCounterNameSize)
    return InvalidArgument("counter name must be 1..64 bytes, got " + std::to_string(name.size()),
                           kPlatformBadRequest);
  for (char c : name)
    if (!NameChar(c))
      return InvalidArgument("counter name may hold only A-Z a-z 0-9 . _ : -", kPlatformBadRequest);
  return OkStatus();
}

std::string CounterTable::Serialize(const Map& counters) {
  std::string out(kHeader);
  out += '\n';
  size_t n = 0;
  for (const auto& [owner, names] : counters) {
    const std::string prefix =
        HexEncode(ByteView(owner.signer)) + " " + std::to_string(owner.product_id) + " ";
    for (const auto& [name, value] : names) {
      out += prefix;
      out += name;
      out += ' ';
      out += std::to_string(value);
      out += '\n';
      ++n;
    }
  }
  out += "end " + std::to_string(n) + "\n";
  return out;
}

Result<CounterTable::Map> CounterTable::Parse(std::string_view text) {
  if (text.size() > kMaxCounterFileBytes)
    return Malformed(0, "larger than " + std::to_string(kMaxCounterFileBytes) + " bytes");
  Map out;
  size_t total = 0, line_no = 0;
  bool ended = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return Malformed(line_no + 1, "no final newline (truncated?)");
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    if (ended) return Malformed(line_no, "data after the end line");
    if (line_no == 1) {
      if (line != kHeader) return Malformed(1, "not a cloister-counters v1 file");
      continue;
    }
    if (line.starts_with("end ")) {
      size_t declared = 0;
      if (!ParseDecimal(line.substr(4), declared) || declared != total)
        return Malformed(line_no, "end line does not match the " + std::to_string(total) +
                                      " counters read");
      ended = true;
      continue;
    }
    std::string_view f[4];
    if (!SplitFields(line, f, 4)) return Malformed(line_no, "expected: signer product name value");
    CounterOwner owner;
    auto signer = HexDecode(f[0]);
    if (f[0].size() != 2 * owner.signer.size() || !signer.ok() || HexEncode(*signer) != f[0])
      return Malformed(line_no, "signer must be 64 lowercase hex digits");
    std::copy(signer->begin(), signer->end(), owner.signer.begin());
    if (!ParseDecimal(f[1], owner.product_id)) return Malformed(line_no, "bad product id");
    if (!CheckCounterName(f[2]).ok()) return Malformed(line_no, "bad counter name");
    uint64_t value = 0;
    if (!ParseDecimal(f[3], value)) return Malformed(line_no, "bad value");
    auto& names = out[owner];
    if (!names.emplace(std::string(f[2]), value).second)
      return Malformed(line_no, "duplicate counter");
    if (names.size() > kMaxCountersPerOwner || ++total > kMaxCountersTotal)
      return Malformed(line_no, "more counters than the platform allows");
  }
  if (line_no == 0) return Malformed(1, "empty file");
  if (!ended) return Malformed(line_no, "no end line (truncated?)");
  return out;
}

CounterTable::CounterTable(Key, std::string path, Map counters, size_t total)
    : path_(std::move(path)), counters_(std::move(counters)), total_(total) {}

std::unique_ptr<CounterTable> CounterTable::InMemory() {
  return std::make_unique<CounterTable>(Key(), "", Map{}, 0);
}

Result<std::unique_ptr<CounterTable>> CounterTable::Open(const std::string& path) {
  if (path.empty()) return InvalidArgument("counters path is empty");
  Map counters;
  auto text = ReadFile(path, kMaxCounterFileBytes);
  if (text.ok()) {
    CLOISTER_RETURN_IF_ERROR(CheckPrivateFile(path));
    auto parsed = Parse(*text);
    if (!parsed.ok())
      return FailedPrecondition(path + ": " + parsed.error().message(), kPlatformStateInvalid);
    counters = *std::move(parsed);
  } else if (text.code() == Code::kResourceExhausted) {
    return FailedPrecondition(path + " is larger than " + std::to_string(kMaxCounterFileBytes) +
                                  " bytes",
                              kPlatformStateInvalid);
  } else if (text.code() != Code::kNotFound) {
    return text.error();
  }
  size_t total = 0;
  for (const auto& [owner, names] : counters) total += names.size();
  return std::make_unique<CounterTable>(Key(), path, std::move(counters), total);
}

Result<uint64_t> CounterTable::Read(const CounterOwner& owner, std::string_view name) const {
  CLOISTER_RETURN_IF_ERROR(CheckCounterName(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto o = counters_.find(owner);
  if (o == counters_.end()) return uint64_t{0};
  auto c = o->second.find(name);
  return c == o->second.end() ? uint64_t{0} : c->second;
}

Result<uint64_t> CounterTable::Advance(const CounterOwner& owner, std::string_view name,
                                       uint64_t to) {
  CLOISTER_RETURN_IF_ERROR(CheckCounterName(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto o = counters_.find(owner);
  if (o != counters_.end()) {
    auto c = o->second.find(name);
    if (c != o->second.end() && to <= c->second) return c->second;  // no change, no write
  }
  if (to == 0) return uint64_t{0};  // a new counter at 0 is no counter
  const bool creating = o == counters_.end() || o->second.find(name) == o->second.end();
  if (creating) {
    if (o != counters_.end() && o->second.size() >= kMaxCountersPerOwner)
      return ResourceExhausted("this product already has " + std::to_string(kMaxCountersPerOwner) +
                                   " counters",
                               kPlatformCountersFull);
    if (total_ >= kMaxCountersTotal)
      return ResourceExhausted("the platform already keeps " + std::to_string(kMaxCountersTotal) +
                                   " counters",
                               kPlatformCountersFull);
  }
  auto& names = counters_[owner];
  auto [slot, inserted] = names.try_emplace(std::string(name), 0);
  const uint64_t before = slot->second;
  slot->second = to;
  if (!path_.empty()) {
    // Durable before the reply. On failure memory goes back to what it was,
    // so no caller is told a value that may not be on disk (the file may
    // still hold the new one if only the directory fsync failed: higher,
    // never lower, than anything returned).
    if (Status s = sys::WriteFileAtomic(path_, Serialize(counters_), 0600); !s.ok()) {
      if (inserted) {
        names.erase(slot);
        if (names.empty()) counters_.erase(owner);
      } else {
        slot->second = before;
      }
      return Unavailable("cannot persist monotonic counter: " + s.error().message(),
                         kPlatformCountersIo);
    }
    ++writes_;
  }
  if (inserted) ++total_;
  return to;
}

uint64_t CounterTable::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

Result<InProcessCounters> InProcessCounters::Open(const std::string& path, CounterOwner owner) {
  CLOISTER_ASSIGN_OR_RETURN(auto table, CounterTable::Open(path));
  return InProcessCounters(owner, std::move(table));
}

}  // namespace cloister::attestation
