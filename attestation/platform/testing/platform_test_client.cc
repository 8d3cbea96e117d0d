// Test helper: one platform operation per run, chosen by argv, printing
// key=value lines (hex for bytes). Built twice (variants a and b) so the
// integration tests have two binaries with different measurements.
//
//   platform_test_client_a SOCKET [FLAGS...] identity
//   ... quote REPORT_DATA_HEX NONCE_HEX | sealkey enclave|signer KEY_ID_HEX SVN
//   ... seal enclave|signer PLAINTEXT_HEX AAD | unseal BLOB_HEX AAD
//   ... extend TYPE DIGEST_HEX DESCRIPTION [COUNT] | readlog
//   ... inherited-quote FD     (a quote on an inherited connection, raw frames)
//   ... counter NAME | advance NAME TO       (prints value=N)
// FLAGS (the attacker behaviours of issue 9, see testing/sys/hostile_actions.h):
//   --harden-before-connect | --harden-after-connect
//   --anon-exec                    map anonymous executable memory first
//   --dlopen-after-connect LIB     load LIB after the session is open
//   --pause-before-connect FILE | --pause-after-connect FILE
//                                  write our pid to FILE, wait for FILE.go
//   --exec-after-connect BIN       open a session (identity), then exec BIN
//                                  with the connection: BIN SOCKET inherited-quote FD
//   --fork-exec-after-connect BIN  the same from a forked child; we wait for it
// On failure prints "error=CODE reason=REASON" and exits 3; usage errors exit 2.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "attestation/platform/platform_client.h"
#include "attestation/platform/protocol.h"
#include "attestation/platform/sys/unix_socket.h"
#include "attestation/platform/testing/sys/hostile_actions.h"
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

// One raw request/response on `fd` (no PlatformClient: the connection may
// have been inherited).
Result<PlatformResponse> RawCall(int fd, const PlatformRequest& req) {
  CLOISTER_RETURN_IF_ERROR(WriteFrame(fd, AsBytes(req.SerializeAsString())));
  CLOISTER_ASSIGN_OR_RETURN(Bytes reply, ReadFrame(fd, 10000, 10000));
  PlatformResponse resp;
  if (!resp.ParseFromArray(reply.data(), static_cast<int>(reply.size())))
    return Internal("bad reply");
  if (resp.has_error()) return ErrorFromProto(resp.error());
  return resp;
}

// Opens a session the way PlatformClient does (connect + identity), then
// hands the connection to another program by exec, in this process or in a
// forked child.
int HandOver(const std::string& socket, const std::string& bin, bool fork_first) {
  auto fd = sys::ConnectUnix(socket);
  if (!fd.ok()) return Fail(fd.error());
  PlatformRequest id;
  id.mutable_identity();
  auto r = RawCall(fd->get(), id);
  if (!r.ok()) return Fail(r.error());
  auto inheritable = testing::sys::InheritableCopy(fd->get());
  if (!inheritable.ok()) return Fail(inheritable.error());
  const std::vector<std::string> argv = {bin, socket, "inherited-quote", std::to_string(*inheritable)};
  if (!fork_first) return Fail(testing::sys::Exec(argv).error());
  auto rc = testing::sys::ForkExecWait(argv);
  if (!rc.ok()) return Fail(rc.error());
  return *rc;
}

int Run(const std::vector<std::string>& args) {
  if (args.size() < 2) return 2;
  const std::string& socket = args[0];
  size_t i = 1;
  bool harden_before = false, harden_after = false, anon_exec = false;
  std::string dlopen_after, pause_before, pause_after, exec_bin, fork_exec_bin;
  while (i < args.size() && args[i].rfind("--", 0) == 0) {
    const std::string flag = args[i++];
    auto value = [&]() -> std::string { return i < args.size() ? args[i++] : std::string(); };
    if (flag == "--harden-before-connect") harden_before = true;
    else if (flag == "--harden-after-connect") harden_after = true;
    else if (flag == "--anon-exec") anon_exec = true;
    else if (flag == "--dlopen-after-connect") dlopen_after = value();
    else if (flag == "--pause-before-connect") pause_before = value();
    else if (flag == "--pause-after-connect") pause_after = value();
    else if (flag == "--exec-after-connect") exec_bin = value();
    else if (flag == "--fork-exec-after-connect") fork_exec_bin = value();
    else return 2;
  }
  if (i >= args.size()) return 2;
  const std::string cmd = args[i++];
  auto arg = [&](size_t k) -> const std::string& {
    static const std::string kEmpty;
    return i + k < args.size() ? args[i + k] : kEmpty;
  };

  if (cmd == "inherited-quote") {
    PlatformRequest req;
    req.mutable_quote()->set_report_data(std::string(64, 'i'));
    auto r = RawCall(std::atoi(arg(0).c_str()), req);
    if (!r.ok()) return Fail(r.error());
    std::cout << "quote=" << HexEncode(AsBytes(r->quote().SerializeAsString())) << "\n";
    return 0;
  }
  if (!exec_bin.empty()) return HandOver(socket, exec_bin, false);
  if (!fork_exec_bin.empty()) return HandOver(socket, fork_exec_bin, true);

  if (anon_exec)
    if (Status s = testing::sys::MapAnonymousExec(); !s.ok()) return Fail(s.error());
  if (harden_before)
    if (Status s = ApplyAntiDebug(); !s.ok()) return Fail(s.error());
  if (!pause_before.empty())
    if (Status s = testing::sys::SignalAndWait(pause_before, 20000); !s.ok()) return Fail(s.error());
  auto client = PlatformClient::Connect(socket);
  if (!client.ok()) return Fail(client.error());
  if (harden_after)
    if (Status s = ApplyAntiDebug(); !s.ok()) return Fail(s.error());
  if (!dlopen_after.empty())
    if (Status s = testing::sys::LoadLibrary(dlopen_after); !s.ok()) return Fail(s.error());
  if (!pause_after.empty())
    if (Status s = testing::sys::SignalAndWait(pause_after, 20000); !s.ok()) return Fail(s.error());

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
    // COUNT > 1: a flood of extensions on one session; reports how many
    // succeeded before the first refusal.
    const long count = arg(3).empty() ? 1 : std::strtol(arg(3).c_str(), nullptr, 10);
    Result<LaunchLog> log = Internal("no extension attempted");
    for (long k = 0; k < count; ++k) {
      log = client->Extend(arg(0), *digest, arg(2));
      if (!log.ok()) {
        std::cout << "extended=" << k << "\n";
        return Fail(log.error());
      }
    }
    std::cout << "extended=" << count << "\n";
    PrintLog(*log);
    return 0;
  }
  if (cmd == "counter" || cmd == "advance") {
    auto v = cmd == "counter"
                 ? client->ReadCounter(arg(0))
                 : client->AdvanceCounter(arg(0), std::strtoull(arg(1).c_str(), nullptr, 10));
    if (!v.ok()) return Fail(v.error());
    std::cout << "value=" << *v << "\n";
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
