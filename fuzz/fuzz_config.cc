// Fuzzes the configuration files every enclave and the CLI read: the TOML
// reader with its typed, range-checked getters (common/config.h, under
// cluster.toml, trust.toml and policy.toml), trust.toml itself
// (attestation/trust.h, with the root, auditor keys and manifest it names
// made by this process's fake platform), and the canonical enclave
// configuration text that `--print-config` prints and manifests sign
// (attestation/enclave_config.h). Input: selector byte, then
//   0: any TOML → ConfigFile::Parse, then every getter on every key path;
//   1: text → EnclaveConfig::Parse, which accepts only canonical text (its
//      Text() is the input), and Set/Text/Parse round-trips any key=value;
//   2: trust.toml text → TrustConfig::Load next to valid referenced files.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>

#include "attestation/enclave_config.h"
#include "attestation/trust.h"
#include "common/config.h"
#include "fuzz/fuzz_common.h"

using namespace cloister;
using namespace cloister::attestation;

namespace {

struct TrustDir {
  fuzz::ScratchDir dir;
  std::string trust_path = dir.path() + "/trust.toml";
  std::string valid;  // a trust.toml that loads
  TrustDir() {
    auto& p = fuzz::Platform();
    std::string keys;
    int i = 0;
    for (const auto& k : p.auditor_keys()) {
      const std::string name = "auditor-" + std::to_string(++i) + ".pub";
      (void)WriteFileAtomic(dir.path() + "/" + name, k.public_key().Pem(), 0644);
      keys += (keys.empty() ? "\"" : ", \"") + name + "\"";
    }
    (void)WriteFileAtomic(dir.path() + "/root.pem", p.root().Pem(), 0644);
    auto m = SignManifest(p.manifest_body(), std::span(p.auditor_keys()).first(2));
    if (m.ok()) (void)WriteFileAtomic(dir.path() + "/manifest.bin", AsChars(*m), 0644);
    valid = "[attestation]\nroot_ca = \"root.pem\"\nmanifest = \"manifest.bin\"\n"
            "auditor_keys = [" + keys + "]\nauditor_threshold = 2\nsecurity_level = 3\n"
            "allow_debug = false\nquote_max_age_s = 600\n"
            "platform_socket = \"/run/cloister/platform.sock\"\n";
  }
};
TrustDir& Trust() {
  static TrustDir t;
  return t;
}

void Getters(const ConfigFile& cfg, const std::string& key, int* budget) {
  if (--*budget < 0) return;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const bool has = cfg.Has(key);
  auto s = cfg.GetString(key, "default");
  (void)cfg.RequireString(key);
  auto i = cfg.GetInt(key, 7, -1000, 1000);
  (void)cfg.GetInt(key, 0, kMin, kMax);
  (void)cfg.GetBool(key, true);
  auto d = cfg.GetDouble(key, 0.5, 0.1, 1e7);
  (void)cfg.GetDouble(key, 0, -std::numeric_limits<double>::infinity(),
                      std::numeric_limits<double>::infinity());
  (void)cfg.GetStringList(key);
  // A missing key gives the default; a present one is range-checked.
  if (!has && (!s.ok() || *s != "default" || !i.ok() || *i != 7)) __builtin_trap();
  if (i.ok() && (*i < -1000 || *i > 1000)) __builtin_trap();
  if (d.ok() && !(*d >= 0.1 && *d <= 1e7)) __builtin_trap();
  for (const auto& sub : cfg.TableKeys(key)) Getters(cfg, key + "." + sub, budget);
}

void Toml(std::string_view text) {
  auto cfg = ConfigFile::Parse(text, "fuzz.toml");
  if (!cfg.ok()) return;
  int budget = 256;
  for (const auto& k : cfg->TableKeys("")) Getters(*cfg, k, &budget);
  (void)cfg->CheckKnownKeys({"cluster.*", "gateway.public_listen", "auth.token_lifetime_s"});
}

void Enclave(std::string_view text) {
  auto c = EnclaveConfig::Parse(text);
  if (c.ok() && c->Text() != text) __builtin_trap();
  // Any value under a key of the alphabet survives Text → Parse.
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return;
  EnclaveConfig one;
  if (!one.Set(text.substr(0, eq), text.substr(eq + 1)).ok()) return;
  auto back = EnclaveConfig::Parse(one.Text());
  if (!back.ok() || back->values() != one.values() || back->Id() != one.Id()) __builtin_trap();
}

void TrustToml(std::string_view text) {
  // Paths the file names are read; keep them to regular files (a device or
  // /proc file is not a config the parser sees in a cluster).
  for (std::string_view bad : {"/dev", "/proc", "/sys", "\\u", "\\U"})
    if (text.find(bad) != std::string_view::npos) return;
  {
    // Not WriteFileAtomic: its fsync would be most of the run time.
    std::ofstream f(Trust().trust_path, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f) return;
  }
  auto t = TrustConfig::Load(Trust().trust_path);
  if (!t.ok()) return;
  if (t->security_level < 1 || t->security_level > 5 || t->auditors.keys.empty() ||
      t->auditors.threshold < 1 ||
      static_cast<size_t>(t->auditors.threshold) > t->auditors.keys.size())
    __builtin_trap();
  (void)BaseConfig(*t, "gateway").Id();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  fuzz::WriteSeed("cluster-toml", fuzz::Seed(0, "[cluster]\nid = \"c-1\"\nsecurity_level = 2\n"
                                                "audit_sync = \"always\"\n[gateway]\n"
                                                "public_listen = \"127.0.0.1:7443\"\n"
                                                "[auth]\nlisten = \"127.0.0.1:7450\"\n"
                                                "token_lifetime_s = 900\n[storage]\n"
                                                "quota_bytes = 10737418240\n"
                                                "rates = [1.5, 2e3]\nnames = ['a', \"b\"]\n"
                                                "[tasks.retry]\nbackoff_ms = 1_000\n"));
  EnclaveConfig c = BaseConfig(*fuzz::Platform().MakeTrust(2), "auth");
  (void)c.Set("db", "sqlite:///var/lib/cloister/auth.db");
  (void)c.Set("motd", "two\nlines and a \\ backslash");
  fuzz::WriteSeed("enclave-config", fuzz::Seed(1, c.Text()));
  fuzz::WriteSeed("trust-toml", fuzz::Seed(2, Trust().valid));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const fuzz::Input in(data, size);
  switch (in.selector % 3) {
    case 0: Toml(in.payload); break;
    case 1: Enclave(in.payload); break;
    default: TrustToml(in.payload); break;
  }
  return 0;
}
