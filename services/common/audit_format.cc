// Audit line parsing and building; see audit_format.h. The parser trusts
// nothing: size, nesting, member types and lengths are checked before use.
#include "services/common/audit_format.h"

#include <charconv>
#include <set>

#include "common/crypto/hash.h"

namespace cloister::services {
namespace {

using nlohmann::ordered_json;
namespace r = audit_reason;

constexpr std::string_view kHashMember = ",\"hash\":\"";  // + 64 hex + "}
constexpr std::string_view kMacMember = ",\"mac\":\"";    // + 64 hex + "
constexpr size_t kHashSuffix = 9 + kAuditHexLen + 2;
constexpr size_t kMacSuffix = 8 + kAuditHexLen + 1;
constexpr size_t kMaxSigB64 = 1024;

Error Malformed(std::string why) { return InvalidArgument(std::move(why), r::kLineMalformed); }

bool IsHex(std::string_view s) {
  if (s.size() != kAuditHexLen) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Names go into the signed statement one per line, so they must not be
// able to carry a newline or "=".
bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.' || c == ':'))
      return false;
  return true;
}

// Only a flat object whose values are scalars or arrays of scalars: rules
// out deep nesting (stack depth in the JSON library) before parsing.
bool FlatShape(std::string_view line) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
        if (depth != 0) return false;
        ++depth;
        break;
      case '[':
        if (depth != 1) return false;
        ++depth;
        break;
      case '}':
      case ']':
        if (--depth < 0) return false;
        break;
      default: break;
    }
  }
  return depth == 0 && !in_string;
}

Result<std::string> Str(const ordered_json& j, const char* k, size_t max_len) {
  auto it = j.find(k);
  if (it == j.end() || !it->is_string()) return Malformed(std::string("'") + k + "' missing or not a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_len) return Malformed(std::string("'") + k + "' too long");
  return s;
}

Result<std::string> Hex(const ordered_json& j, const char* k) {
  CLOISTER_ASSIGN_OR_RETURN(std::string s, Str(j, k, kAuditHexLen));
  if (!IsHex(s)) return Malformed(std::string("'") + k + "' is not 64 lowercase hex digits");
  return s;
}

Result<uint64_t> Unsigned(const ordered_json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end() || !it->is_number_unsigned())
    return Malformed(std::string("'") + k + "' missing or not an unsigned integer");
  return it->get<uint64_t>();
}

bool OptionalStrings(const ordered_json& j) {
  for (const char* k : {"principal", "method", "decision", "reason", "request_id", "peer"})
    if (auto it = j.find(k); it != j.end() && !it->is_string()) return false;
  if (auto it = j.find("resources"); it != j.end()) {
    if (!it->is_array()) return false;
    for (const auto& e : *it)
      if (!e.is_string()) return false;
  }
  return true;
}

bool KnownWhy(std::string_view w) {
  for (std::string_view k : {"start", "rotate", "count", "time", "close"})
    if (w == k) return true;
  return false;
}

Status ParseKind(const ordered_json& j, AuditLine& l) {
  auto kit = j.find("kind");
  if (kit == j.end()) {
    l.kind = AuditLineKind::kEntry;
    if (!OptionalStrings(j)) return Malformed("an entry field has the wrong type");
    return OkStatus();
  }
  if (!kit->is_string()) return Malformed("'kind' is not a string");
  const std::string& kind = kit->get_ref<const std::string&>();
  CLOISTER_ASSIGN_OR_RETURN(l.segment, Unsigned(j, "segment"));
  if (l.segment > 999'999'999'999ull) return Malformed("segment number out of range");
  if (kind == "segment") {
    l.kind = AuditLineKind::kSegment;
    CLOISTER_ASSIGN_OR_RETURN(l.checkpoint_every, Unsigned(j, "checkpoint_every"));
    CLOISTER_ASSIGN_OR_RETURN(l.prev_mac, Hex(j, "prev_mac"));
    return OkStatus();
  }
  CLOISTER_ASSIGN_OR_RETURN(l.why, Str(j, "why", 16));
  if (!KnownWhy(l.why)) return Malformed("unknown 'why'");
  if (kind == "signer") {
    l.kind = AuditLineKind::kSigner;
    CLOISTER_ASSIGN_OR_RETURN(l.scheme, Str(j, "scheme", 32));
    CLOISTER_ASSIGN_OR_RETURN(l.key_id, Hex(j, "key_id"));
    if (l.scheme == kSchemeEcdsaP256) {
      CLOISTER_ASSIGN_OR_RETURN(l.cert, Str(j, "cert", kAuditMaxLineBytes));
    } else if (l.scheme != kSchemeHmacSha256) {
      return Malformed("unknown signature scheme");
    }
    return OkStatus();
  }
  if (kind == "checkpoint") {
    l.kind = AuditLineKind::kCheckpoint;
    auto fit = j.find("final");
    if (fit == j.end() || !fit->is_boolean()) return Malformed("'final' missing or not a boolean");
    l.final = fit->get<bool>();
    CLOISTER_ASSIGN_OR_RETURN(l.seg_entries, Unsigned(j, "seg_entries"));
    CLOISTER_ASSIGN_OR_RETURN(l.signer, Hex(j, "signer"));
    CLOISTER_ASSIGN_OR_RETURN(l.prev_mac, Hex(j, "prev_mac"));
    CLOISTER_ASSIGN_OR_RETURN(l.sig, Str(j, "sig", kMaxSigB64));
    return OkStatus();
  }
  return Malformed("unknown kind");
}

}  // namespace

Result<AuditLine> ParseAuditLine(std::string_view line) {
  if (line.empty()) return Malformed("empty line");
  if (line.size() > kAuditMaxLineBytes) return Malformed("line longer than 1 MiB");
  if (line.size() < kHashSuffix + 2 || line.front() != '{')
    return Malformed("not a chained JSON object");
  AuditLine l;
  // The chained members are found by position, so the hashed bytes are
  // exactly the bytes before them.
  l.hashed_len = line.size() - kHashSuffix;
  std::string_view tail = line.substr(l.hashed_len);
  if (tail.substr(0, kHashMember.size()) != kHashMember || tail.substr(kHashSuffix - 2) != "\"}")
    return Malformed("the line does not end with its \"hash\" member");
  l.hash = std::string(tail.substr(kHashMember.size(), kAuditHexLen));
  if (!IsHex(l.hash)) return Malformed("'hash' is not 64 lowercase hex digits");
  if (l.hashed_len > kMacSuffix + 1) {
    std::string_view m = line.substr(l.hashed_len - kMacSuffix, kMacSuffix);
    if (m.substr(0, kMacMember.size()) == kMacMember && m.back() == '"' &&
        IsHex(m.substr(kMacMember.size(), kAuditHexLen))) {
      l.maced_len = l.hashed_len - kMacSuffix;
      l.mac = std::string(m.substr(kMacMember.size(), kAuditHexLen));
    }
  }
  if (!FlatShape(line)) return Malformed("not a flat JSON object");
  // Duplicate members would let the displayed value differ from another
  // reader's; the writer never makes them.
  std::set<std::string> keys;
  bool duplicate = false;
  ordered_json::parser_callback_t cb = [&](int, ordered_json::parse_event_t ev, ordered_json& v) {
    if (ev == ordered_json::parse_event_t::key && !keys.insert(v.get<std::string>()).second)
      duplicate = true;
    return true;
  };
  ordered_json j = ordered_json::parse(line.begin(), line.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("not a JSON object");
  if (duplicate) return Malformed("a member appears twice");
  CLOISTER_ASSIGN_OR_RETURN(std::string hash_member, Hex(j, "hash"));
  if (hash_member != l.hash) return Malformed("'hash' is not the last member");
  if (j.contains("mac")) {
    CLOISTER_ASSIGN_OR_RETURN(std::string mac_member, Hex(j, "mac"));
    if (l.maced_len == 0 || mac_member != l.mac) return Malformed("'mac' is not just before 'hash'");
  } else if (l.maced_len != 0) {
    return Malformed("'mac' is not a member");
  }
  CLOISTER_ASSIGN_OR_RETURN(l.seq, Unsigned(j, "seq"));
  CLOISTER_ASSIGN_OR_RETURN(l.prev, Hex(j, "prev"));
  if (auto it = j.find("ts_ms"); it != j.end()) {
    if (!it->is_number_integer()) return Malformed("'ts_ms' is not an integer");
    l.ts_ms = it->get<int64_t>();
  }
  if (j.contains("service") || j.contains("kind")) {
    CLOISTER_ASSIGN_OR_RETURN(l.service, Str(j, "service", 64));
    if (!IsName(l.service)) return Malformed("'service' is not a service name");
  }
  CLOISTER_RETURN_IF_ERROR(ParseKind(j, l));
  if (l.kind != AuditLineKind::kEntry && l.mac.empty())
    return Malformed("a segment, signer or checkpoint line without a MAC");
  return l;
}

std::string AuditLineHash(std::string_view prev, std::string_view line, const AuditLine& p) {
  crypto::Sha256Hasher h;
  h.Update(prev);
  h.Update(std::string_view("\n"));
  h.Update(line.substr(0, p.hashed_len));
  h.Update(std::string_view("}"));
  return HexEncode(h.Finish());
}

std::string AuditLineMac(ByteView key, std::string_view prev_mac, std::string_view line,
                         const AuditLine& p) {
  std::string input;
  input.reserve(prev_mac.size() + p.maced_len + 2);
  input.append(prev_mac).append("\n").append(line.substr(0, p.maced_len)).append("}");
  return HexEncode(crypto::HmacSha256(key, AsBytes(input)));
}

BuiltLine BuildAuditLine(const ordered_json& body, std::string_view prev, ByteView mac_key,
                         std::string_view prev_mac) {
  BuiltLine b;
  std::string s = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s.pop_back();  // the closing brace: the chained members follow
  if (s.size() > 1) s += ',';
  s.append("\"prev\":\"").append(prev).append("\"");
  if (!mac_key.empty()) {
    std::string input = std::string(prev_mac) + "\n" + s + "}";
    b.mac = HexEncode(crypto::HmacSha256(mac_key, AsBytes(input)));
    s.append(kMacMember).append(b.mac).append("\"");
  }
  crypto::Sha256Hasher h;
  h.Update(prev);
  h.Update(std::string_view("\n"));
  h.Update(std::string_view(s));
  h.Update(std::string_view("}"));
  b.hash = HexEncode(h.Finish());
  s.append(kHashMember).append(b.hash).append("\"}");
  b.text = std::move(s);
  return b;
}

std::string CheckpointStatement(const AuditLine& cp) {
  std::string s = "cloister-audit-checkpoint/1\n";
  auto add = [&s](std::string_view k, std::string_view v) {
    s.append(k).append("=").append(v).append("\n");
  };
  add("service", cp.service);
  add("segment", std::to_string(cp.segment));
  add("seq", std::to_string(cp.seq));
  add("ts_ms", std::to_string(cp.ts_ms));
  add("why", cp.why);
  add("final", cp.final ? "1" : "0");
  add("seg_entries", std::to_string(cp.seg_entries));
  add("signer", cp.signer);
  add("prev", cp.prev);
  add("prev_mac", cp.prev_mac);
  return s;
}

std::string AuditSegmentPath(const std::string& base, uint64_t n) {
  std::string num = std::to_string(n);
  if (num.size() < 6) num.insert(0, 6 - num.size(), '0');
  return base + "." + num;
}

std::optional<uint64_t> AuditSegmentNumber(std::string_view base_name, std::string_view name) {
  if (name.size() <= base_name.size() + 1 || name.substr(0, base_name.size()) != base_name ||
      name[base_name.size()] != '.')
    return std::nullopt;
  std::string_view digits = name.substr(base_name.size() + 1);
  if (digits.size() < 6 || digits.size() > 12) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace cloister::services
