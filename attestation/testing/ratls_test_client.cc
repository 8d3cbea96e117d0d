// A small enclave client for RA-TLS integration tests. Normally it attests
// honestly; --attack makes it present a forged certificate from a real
// process so tests can show the server refuses each forgery:
//   forge-signature  a genuine quote with one signature byte flipped
//   unbind-key       a genuine quote whose report_data binds another key
//   lift-quote       a genuine quote taken from another certificate
//   other-root       a quote from a platform of an untrusted root
// Output: "OK ping <role>", "OK stream <n>", or "FAILED <code> <message>"
// (exit 3), and "REFUSED <reason>" when this client refused the server.
// --reconnects N makes N pings, each on a NEW connection (own channel, own
// subchannel pool), and prints "CONN <i> reused=<0|1> server_verifications=<n>"
// (or "CONN <i> FAILED <code> <message>") per connection and
// "CLIENT_VERIFICATIONS <n>" at the end: a test counts full verifications.
// --offer-resumption adds a shared client session cache (gRPC's C API:
// grpc_ssl_session_cache, used only here), as a client trying to resume.
#include <CLI/CLI.hpp>
#include <grpc/grpc_security.h>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <thread>

#include "attestation/enclave.h"
#include "attestation/ratls.h"
#include "attestation/testing/fake_platform.h"
#include "common/logging.h"
#include "proto/testing.grpc.pb.h"

namespace {
using namespace cloister;
using namespace cloister::attestation;

Result<crypto::Certificate> CertWithQuote(const crypto::PrivateKey& key, const Quote& q,
                                          const LaunchLog& log) {
  crypto::CertOptions o;
  o.common_name = "test-client";
  o.not_after = time(nullptr) + 3600;
  o.extensions.push_back({kQuoteExtensionOid, false, ToBytes(q.SerializeAsString())});
  o.extensions.push_back({kLaunchLogExtensionOid, false, ToBytes(log.SerializeAsString())});
  return crypto::Certificate::Create(o, key.public_key(), key, nullptr);
}

std::function<Result<crypto::Certificate>(QuoteProvider&, const crypto::PrivateKey&)> Attack(
    const std::string& mode) {
  if (mode == "forge-signature")
    return [](QuoteProvider& p, const crypto::PrivateKey& key) -> Result<crypto::Certificate> {
      CLOISTER_ASSIGN_OR_RETURN(Quote q, p.GetQuote(MakeReportData(key.public_key().SpkiDer(), {}), {}));
      q.mutable_signature()->back() ^= 1;
      CLOISTER_ASSIGN_OR_RETURN(LaunchLog log, p.ReadLaunchLog());
      return CertWithQuote(key, q, log);
    };
  if (mode == "unbind-key")
    return [](QuoteProvider& p, const crypto::PrivateKey& key) -> Result<crypto::Certificate> {
      CLOISTER_ASSIGN_OR_RETURN(Quote q, p.GetQuote(Bytes(64, 0), {}));
      CLOISTER_ASSIGN_OR_RETURN(LaunchLog log, p.ReadLaunchLog());
      return CertWithQuote(key, q, log);
    };
  if (mode == "lift-quote")
    return [](QuoteProvider& p, const crypto::PrivateKey& key) -> Result<crypto::Certificate> {
      // A genuine RA-TLS certificate for a victim key; its quote moved into
      // a certificate for the attacker's key.
      CLOISTER_ASSIGN_OR_RETURN(auto victim, crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
      CLOISTER_ASSIGN_OR_RETURN(auto genuine, IssueRaTlsCertificate(p, victim, "victim", 600, {}));
      CLOISTER_ASSIGN_OR_RETURN(auto q, ExtractQuote(genuine));
      CLOISTER_ASSIGN_OR_RETURN(LaunchLog log, p.ReadLaunchLog());
      return CertWithQuote(key, q, log);
    };
  if (mode == "other-root")
    return [](QuoteProvider&, const crypto::PrivateKey& key) -> Result<crypto::Certificate> {
      cloister::attestation::testing::FakePlatform rogue({"test-client"});
      return IssueRaTlsCertificate(rogue, key, "test-client", 600, {});
    };
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RA-TLS test client"};
  std::string trust, role = "test-client", target, mode = "both", attack = "none";
  std::vector<std::string> expect{"test-server"};
  bool skip_self_check = false;
  int sleep_ms = 0, repeat = 1, stream_count = 5, reconnects = 0;
  app.add_option("--trust", trust)->required();
  app.add_option("--role", role);
  app.add_option("--target", target)->required();
  app.add_option("--expect", expect, "server roles accepted");
  app.add_option("--mode", mode)->check(CLI::IsMember({"ping", "stream", "both"}));
  app.add_option("--attack", attack)
      ->check(CLI::IsMember({"none", "forge-signature", "unbind-key", "lift-quote", "other-root"}));
  app.add_option("--sleep-before-connect-ms", sleep_ms);
  app.add_option("--repeat", repeat, "calls per method");
  app.add_option("--stream-count", stream_count);
  app.add_option("--reconnects", reconnects, "pings, each on a new connection");
  bool offer_resumption = false;
  app.add_flag("--offer-resumption", offer_resumption, "with --reconnects: offer TLS resumption");
  app.add_flag("--skip-self-check", skip_self_check);
  CLI11_PARSE(app, argc, argv);
  InitLogging("ratls-test-client", {});

  EnclaveOptions eo;
  eo.role = role;
  eo.trust_path = trust;
  eo.skip_self_check_for_testing = skip_self_check;
  eo.ratls.issue_for_testing = Attack(attack);
  auto enclave = Enclave::Start(eo);
  if (!enclave.ok()) {
    std::cerr << "enclave start refused: " << enclave.error().ToString() << std::endl;
    return 2;
  }
  (*enclave)->ratls()->SetObserver([](const VerifyEvent& ev) {
    if (!ev.accepted) std::cout << "REFUSED " << ev.reason << " " << ev.message << std::endl;
  });
  if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));

  if (reconnects > 0) {
    std::unique_ptr<grpc_ssl_session_cache, void (*)(grpc_ssl_session_cache*)> cache(
        grpc_ssl_session_cache_create_lru(16), grpc_ssl_session_cache_destroy);
    auto creds = (*enclave)->ChannelCredentials(expect);
    int failed = 0;
    for (int i = 0; i < reconnects; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      if (offer_resumption) {
        grpc_arg cache_arg = grpc_ssl_session_cache_create_channel_arg(cache.get());
        args.SetPointerWithVtable(cache_arg.key, cache_arg.value.pointer.p,
                                  cache_arg.value.pointer.vtable);
      }
      auto stub = cloister::testing::TestService::NewStub(
          grpc::CreateCustomChannel(target, creds, args));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      cloister::testing::PingRequest req;
      req.set_message("hello");
      cloister::testing::PingResponse resp;
      grpc::Status st = stub->Ping(&ctx, req, &resp);
      if (!st.ok()) {
        ++failed;
        std::cout << "CONN " << i << " FAILED " << st.error_code() << " " << st.error_message()
                  << std::endl;
        continue;
      }
      std::cout << "CONN " << i << " reused=" << (resp.session_reused() ? 1 : 0)
                << " server_verifications=" << resp.server_verifications() << std::endl;
    }
    std::cout << "CLIENT_VERIFICATIONS " << (*enclave)->ratls()->accepted_count() << std::endl;
    return failed == 0 ? 0 : 3;
  }

  auto channel = grpc::CreateChannel(target, (*enclave)->ChannelCredentials(expect));
  auto stub = cloister::testing::TestService::NewStub(channel);
  for (int i = 0; i < repeat; ++i) {
    if (mode == "ping" || mode == "both") {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      cloister::testing::PingRequest req;
      req.set_message("hello");
      cloister::testing::PingResponse resp;
      grpc::Status st = stub->Ping(&ctx, req, &resp);
      if (!st.ok()) {
        std::cout << "FAILED " << st.error_code() << " " << st.error_message() << std::endl;
        return 3;
      }
      std::cout << "OK ping " << resp.peer_role() << " " << resp.message() << std::endl;
    }
    if (mode == "stream" || mode == "both") {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      cloister::testing::CountRequest req;
      req.set_count(static_cast<uint32_t>(stream_count));
      auto reader = stub->Count(&ctx, req);
      cloister::testing::CountResponse r;
      uint32_t n = 0;
      bool in_order = true;
      while (reader->Read(&r)) in_order &= (r.value() == n++);
      grpc::Status st = reader->Finish();
      if (!st.ok()) {
        std::cout << "FAILED " << st.error_code() << " " << st.error_message() << std::endl;
        return 3;
      }
      std::cout << "OK stream " << n << (in_order ? "" : " out-of-order") << std::endl;
    }
  }
  return 0;
}
