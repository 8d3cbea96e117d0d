// Test helper: one platform operation per run, chosen by argv, printing
// key=value lines (hex for bytes). Built twice (variants a and b) so the
// integration tests have two binaries with different measurements.
//
//   platform_test_client_a SOCKET [--harden-before-connect|--harden-after-connect] identity
//   ... quote REPORT_DATA_HEX NONCE_HEX | sealkey enclave|signer KEY_ID_HEX SVN
//   ... seal enclave|signer PLAINTEXT_HEX AAD | unseal BLOB_HEX AAD
//   ... extend TYPE DIGEST_HEX DESCRIPTION | readlog
// On failure prints "error=CODE reason=REASON" and exits 3; usage errors exit 2.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "attestation/platform/platform_client.h"
#include "attestation/sealing.h"
#include "common/hardening.h"

namespace cloister::attestation {
namespace {

constexpr const char* kVariant = CLOISTER_TEST_CLIENT_VARIANT;

int Fail(const Error& e) {
  std::cout << "error=" << CodeName(e.code()) << " reason=" << e.reason() << "\n";
  std::cerr << "variant " << kVariant << ": " << e.ToString() << "\n";
  return 3;
}

Result<SealPolicy> ParsePolicy(std::string_view s) {
  if (s == "enclave") return SEAL_POLICY_MRENCLAVE;
  if (s == "signer") return SEAL_POLICY_MRSIGNER;
  return InvalidArgument("policy must be enclave or signer");
}

void PrintLog(const LaunchLog& log) {
  std::cout << "events=" << log.events_size() << "\n";
  std::cout << "log=" << HexEncode(AsBytes(log.SerializeAsString())) << "\n";
}

int Run(const std::vector<std::string>& args) {
  if (args.size() < 2) return 2;
  const std::string& socket = args[0];
  size_t i = 1;
  bool harden_before = false, harden_after = false;
  if (args[i] == "--harden-before-connect") harden_before = true, ++i;
  else if (args[i] == "--harden-after-connect") harden_after = true, ++i;
  if (i >= args.size()) return 2;
  const std::string cmd = args[i++];
  auto arg = [&](size_t k) -> const std::string& {
    static const std::string kEmpty;
    return i + k < args.size() ? args[i + k] : kEmpty;
  };

  if (harden_before)
    if (Status s = ApplyAntiDebug(); !s.ok()) return Fail(s.error());
  auto client = PlatformClient::Connect(socket);
  if (!client.ok()) return Fail(client.error());
  if (harden_after)
    if (Status s = ApplyAntiDebug(); !s.ok()) return Fail(s.error());

  if (cmd == "identity") {
    auto id = client->Identity();
    if (!id.ok()) return Fail(id.error());
    std::cout << "variant=" << kVariant << "\n"
              << "measurement=" << HexEncode(AsBytes(id->measurement())) << "\n"
              << "signer=" << HexEncode(AsBytes(id->signer())) << "\n"
              << "name=" << id->enclave_name() << "\n"
              << "product=" << id->product_id() << "\n"
              << "svn=" << id->svn() << "\n"
              << "level=" << id->security_level() << "\n";
    return 0;
  }
  if (cmd == "quote") {
    auto rd = HexDecode(arg(0));
    auto nonce = HexDecode(arg(1));
    if (!rd.ok() || !nonce.ok()) return 2;
    auto q = client->GetQuote(*rd, *nonce);
    if (!q.ok()) return Fail(q.error());
    std::cout << "quote=" << HexEncode(AsBytes(q->SerializeAsString())) << "\n";
    return 0;
  }
  if (cmd == "sealkey") {
    auto policy = ParsePolicy(arg(0));
    auto key_id = HexDecode(arg(1));
    if (!policy.ok() || !key_id.ok() || arg(2).empty()) return 2;
    auto key = client->GetSealingKey(*policy, *key_id,
                                     static_cast<uint32_t>(std::strtoul(arg(2).c_str(), nullptr, 10)));
    if (!key.ok()) return Fail(key.error());
    // Printing a key is what this test helper is for; real enclaves never do.
    std::cout << "key=" << HexEncode(key->view()) << "\n";
    return 0;
  }
  if (cmd == "seal") {
    auto policy = ParsePolicy(arg(0));
    auto pt = HexDecode(arg(1));
    if (!policy.ok() || !pt.ok()) return 2;
    auto blob = Seal(*client, *policy, *pt, AsBytes(arg(2)));
    if (!blob.ok()) return Fail(blob.error());
    std::cout << "blob=" << HexEncode(*blob) << "\n";
    return 0;
  }
  if (cmd == "unseal") {
    auto blob = HexDecode(arg(0));
    if (!blob.ok()) return 2;
    auto pt = Unseal(*client, *blob, AsBytes(arg(1)));
    if (!pt.ok()) return Fail(pt.error());
    std::cout << "plaintext=" << HexEncode(*pt) << "\n";
    return 0;
  }
  if (cmd == "extend") {
    auto digest = HexDecode(arg(1));
    if (!digest.ok()) return 2;
    auto log = client->Extend(arg(0), *digest, arg(2));
    if (!log.ok()) return Fail(log.error());
    PrintLog(*log);
    return 0;
  }
  if (cmd == "readlog") {
    auto log = client->ReadLog();
    if (!log.ok()) return Fail(log.error());
    PrintLog(*log);
    return 0;
  }
  return 2;
}

}  // namespace
}  // namespace cloister::attestation

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int rc = cloister::attestation::Run(args);
  if (rc == 2) std::cerr << "usage: see attestation/platform/testing/platform_test_client.cc\n";
  return rc;
}
