// The canonical configuration text and config id; see enclave_config.h.
#include "attestation/enclave_config.h"

#include <algorithm>

namespace cloister::attestation {
namespace {

constexpr std::string_view kConfigDomain = "cloister-config-v1\n";

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string Escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Result<std::string> Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    if (i + 1 >= v.size()) return InvalidArgument("config value ends in '\\'", kConfigMalformed);
    char n = v[++i];
    if (n == '\\') out += '\\';
    else if (n == 'n') out += '\n';
    else return InvalidArgument("config value has an unknown escape", kConfigMalformed);
  }
  return out;
}

}  // namespace

Status EnclaveConfig::Set(std::string_view key, std::string_view value) {
  if (!ValidKey(key))
    return InvalidArgument("config key '" + std::string(key.substr(0, 64)) +
                               "' is not 1..64 characters of [a-z0-9._-]",
                           kConfigMalformed);
  values_.insert_or_assign(std::string(key), std::string(value));
  return OkStatus();
}

void EnclaveConfig::Merge(const EnclaveConfig& other) {
  for (const auto& [k, v] : other.values_) values_.insert_or_assign(k, v);
}

const std::string* EnclaveConfig::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

std::string EnclaveConfig::Text() const {
  std::string t;
  for (const auto& [k, v] : values_) t += k + "=" + Escape(v) + "\n";
  return t;
}

crypto::Digest ConfigIdOfText(std::string_view text) {
  crypto::Sha256Hasher h;
  h.Update(kConfigDomain);
  h.Update(text);
  return h.Finish();
}

crypto::Digest EnclaveConfig::Id() const { return ConfigIdOfText(Text()); }

Result<EnclaveConfig> EnclaveConfig::Parse(std::string_view text) {
  if (text.size() > kMaxConfigTextBytes)
    return InvalidArgument("config text is larger than 16 KiB", kConfigMalformed);
  EnclaveConfig c;
  std::string prev;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos)
      return InvalidArgument("config text does not end in a newline", kConfigMalformed);
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return InvalidArgument("config line without '='", kConfigMalformed);
    std::string key(line.substr(0, eq));
    if (!ValidKey(key)) return InvalidArgument("config key is malformed", kConfigMalformed);
    if (!prev.empty() && key <= prev)
      return InvalidArgument("config keys are not sorted and unique", kConfigMalformed);
    CLOISTER_ASSIGN_OR_RETURN(std::string value, Unescape(line.substr(eq + 1)));
    c.values_.emplace(key, std::move(value));
    prev = std::move(key);
  }
  return c;
}

std::vector<std::string> DifferingKeys(const EnclaveConfig& a, const EnclaveConfig& b) {
  std::vector<std::string> out;
  for (const auto& [k, v] : a.values()) {
    const std::string* o = b.Find(k);
    if (o == nullptr || *o != v) out.push_back(k);
  }
  for (const auto& [k, v] : b.values())
    if (a.Find(k) == nullptr) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

EnclaveConfig BaseConfig(const TrustConfig& trust, std::string_view role) {
  EnclaveConfig c;
  // Keys are constants from the alphabet, so Set cannot fail here.
  (void)c.Set("role", role);
  (void)c.Set("cluster_id", trust.manifest.body().cluster_id());
  (void)c.Set("trust.root", HexEncode(crypto::Sha256(trust.attestation_root.Der())));
  (void)c.Set("trust.auditors", HexEncode(trust.auditors.SignerId()));
  (void)c.Set("trust.security_level", std::to_string(trust.security_level));
  (void)c.Set("trust.allow_debug", trust.allow_debug ? "true" : "false");
  (void)c.Set("trust.quote_max_age_s", std::to_string(trust.quote_max_age_s));
  (void)c.Set("trust.platform_socket", trust.platform_socket);
  return c;
}

}  // namespace cloister::attestation
