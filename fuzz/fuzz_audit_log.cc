// Fuzzes the audit log's line parser and verifier on bytes as they would be
// read from disk: input = segment 1 '\f' segment 2 '\f' head. Seeds are a
// real sealed log this process writes, so mutation starts from valid lines.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/fs.h"
#include "fuzz/fuzz_seed.h"
#include "services/common/audit_log.h"

using namespace cloister;
using namespace cloister::services;

namespace {

struct Keys {
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  SecretBytes chain = SecretBytes::Random(32);
};
Keys& K() {
  static Keys k;
  return k;
}

crypto::Certificate Cert() {
  crypto::CertOptions o;
  o.common_name = "fuzz";
  o.not_after = time(nullptr) + 3600;
  return *crypto::Certificate::Create(o, K().key.public_key(), K().key, nullptr);
}

void WriteSeeds(const std::string& dir) {
  const std::string work = dir + "/.audit-seed";
  std::filesystem::create_directories(work);
  const std::string base = work + "/gateway.log";
  {
    AuditLogOptions o;
    o.chain_key = K().chain;
    o.signer = MakeKeyAuditSigner(K().key, [c = Cert()] { return c; });
    o.checkpoint_every_entries = 3;
    o.segment_max_entries = 5;
    auto log = AuditLog::Open(base, "gateway", SecretBytes::Random(32), std::move(o));
    if (!log.ok()) return;
    for (int i = 0; i < 8; ++i)
      (void)(*log)->Append({.principal = "u-" + std::to_string(i), .method = "/m",
                            .decision = i % 2 ? "deny" : "allow", .resources = {"r"}});
  }
  auto s1 = ReadFile(AuditSegmentPath(base, 1));
  auto s2 = ReadFile(AuditSegmentPath(base, 2));
  auto head = ReadFile(AuditHeadPath(base));
  if (s1.ok() && s2.ok() && head.ok()) {
    (void)WriteFileAtomic(dir + "/sealed-log", *s1 + "\f" + *s2 + "\f" + *head, 0644);
    (void)WriteFileAtomic(dir + "/one-line", s1->substr(0, s1->find('\n')), 0644);
  }
  std::filesystem::remove_all(work);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("CLOISTER_FUZZ_SEED_DIR")) WriteSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)ParseAuditLine(in.substr(0, in.find('\n')));
  AuditLogText log;
  log.base = "fuzz/gateway.log";
  log.head_file = "fuzz/gateway.log.head";
  size_t pos = 0;
  for (int part = 0; part < 3 && pos <= in.size(); ++part) {
    size_t ff = in.find('\f', pos);
    std::string_view piece = in.substr(pos, ff == std::string_view::npos ? std::string_view::npos : ff - pos);
    if (part < 2) log.segments.push_back({"seg" + std::to_string(part + 1), part + 1u, std::string(piece)});
    else log.head = std::string(piece);
    if (ff == std::string_view::npos) break;
    pos = ff + 1;
  }
  AuditVerifyOptions o;
  o.trust = PinnedKeyTrust({K().key.public_key()});
  o.require_signed = true;
  o.require_head = true;
  o.mac_key = K().chain.view();
  (void)VerifyAuditText(log, o);
  // The same bytes as one standalone file, without keys.
  AuditLogText one;
  one.base = "fuzz/copy.log";
  one.standalone = true;
  one.segments.push_back({"copy", std::nullopt, std::string(in)});
  (void)VerifyAuditText(one, {});
  return 0;
}
