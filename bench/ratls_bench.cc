// RA-TLS cost against its anchors in the same run (issue 2, "Measure"):
//   - full handshake (new channel, both sides verify) and
//   - per-call latency on an established channel,
// for plain gRPC over TCP, plain TLS 1.3 (self-signed cert, server-auth
// only) and mutual RA-TLS with full quote verification on both sides.
// Also: RA-TLS certificate verifications/s (chain + quote + manifest).
// The bench is its own enclave: it registers its own binary in a signed
// manifest and runs a real cloister-platform daemon.
//
//   build/bin/ratls_bench [--handshakes 200] [--calls 3000]
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "attestation/enclave.h"
#include "attestation/ratls.h"
#include "common/fs.h"
#include "common/logging.h"
#include "proto/testing.grpc.pb.h"
#include "tests/support/attested_node.h"

namespace {
using namespace cloister;
using Clock = std::chrono::steady_clock;

class PingService final : public cloister::testing::TestService::Service {
  grpc::Status Ping(grpc::ServerContext*, const cloister::testing::PingRequest* req,
                    cloister::testing::PingResponse* resp) override {
    resp->set_message(req->message());
    return grpc::Status::OK;
  }
};

struct Stats {
  double p50_us, p99_us;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

bool Ping(cloister::testing::TestService::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  cloister::testing::PingRequest req;
  req.set_message("x");
  cloister::testing::PingResponse resp;
  return stub.Ping(&ctx, req, &resp).ok();
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& addr,
                                          std::shared_ptr<grpc::ChannelCredentials> creds,
                                          int salt) {
  grpc::ChannelArguments args;
  // A private subchannel pool and a unique arg force a fresh connection,
  // so each iteration pays a real TCP + TLS handshake.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  args.SetInt("cloister.bench.salt", salt);
  args.SetSslTargetNameOverride("bench");
  return grpc::CreateCustomChannel(addr, creds, args);
}

Stats Handshakes(const std::string& addr, std::shared_ptr<grpc::ChannelCredentials> creds, int n) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto ch = NewChannel(addr, creds, i);
    auto stub = cloister::testing::TestService::NewStub(ch);
    if (!Ping(*stub)) {
      fprintf(stderr, "handshake ping failed\n");
      std::exit(1);
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return Summarize(us);
}

Stats Calls(const std::string& addr, std::shared_ptr<grpc::ChannelCredentials> creds, int n) {
  auto ch = NewChannel(addr, creds, -1);
  auto stub = cloister::testing::TestService::NewStub(ch);
  for (int i = 0; i < 100; ++i) Ping(*stub);  // warm up
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    Ping(*stub);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return Summarize(us);
}

}  // namespace

int main(int argc, char** argv) {
  int handshakes = 200, calls = 3000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!strcmp(argv[i], "--handshakes")) handshakes = atoi(argv[++i]);
    if (!strcmp(argv[i], "--calls")) calls = atoi(argv[++i]);
  }
  InitLogging("ratls-bench", {.level = "error"});
  auto self = SelfExePath();
  cloister::testing::AttestedNode node({{"bench", *self}}, {.platform_binary = CLOISTER_PLATFORM_BIN});
  if (auto st = node.Start(); !st.ok()) {
    fprintf(stderr, "setup: %s\n", st.ToString().c_str());
    return 1;
  }
  attestation::EnclaveOptions eo;
  eo.role = "bench";
  eo.trust_path = node.trust_path();
  eo.ratls.refresh_period_s = 0;  // no timer noise during measurement
  auto enclave = attestation::Enclave::Start(eo);
  if (!enclave.ok()) {
    fprintf(stderr, "enclave: %s\n", enclave.error().ToString().c_str());
    return 1;
  }
  auto& e = **enclave;

  // Plain TLS anchor: a self-signed P-256 certificate, TLS 1.3 by default
  // between two gRPC/OpenSSL 3 peers, server authentication only.
  auto tls_key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  crypto::CertOptions co;
  co.common_name = "bench";
  co.dns_names = {"bench"};
  co.not_after = time(nullptr) + 3600;
  auto tls_cert = *crypto::Certificate::Create(co, tls_key.public_key(), tls_key, nullptr);
  grpc::SslServerCredentialsOptions sso;
  sso.pem_key_cert_pairs.push_back({ToString(tls_key.Pem().view()), tls_cert.Pem()});
  grpc::SslCredentialsOptions sco;
  sco.pem_root_certs = tls_cert.Pem();

  PingService svc;
  grpc::ServerBuilder b;
  int p_tcp = 0, p_tls = 0, p_ratls = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &p_tcp);
  b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(sso), &p_tls);
  b.AddListeningPort("127.0.0.1:0", e.ServerCredentials({"bench"}), &p_ratls);
  b.RegisterService(&svc);
  auto server = b.BuildAndStart();

  struct Row {
    const char* name;
    std::string addr;
    std::shared_ptr<grpc::ChannelCredentials> creds;
    Stats hs, call;
  };
  std::vector<Row> rows = {
      {"plain gRPC (TCP)", "127.0.0.1:" + std::to_string(p_tcp), grpc::InsecureChannelCredentials(), {}, {}},
      {"TLS 1.3 (server auth)", "127.0.0.1:" + std::to_string(p_tls), grpc::SslCredentials(sco), {}, {}},
      {"mutual RA-TLS", "127.0.0.1:" + std::to_string(p_ratls), e.ChannelCredentials({"bench"}), {}, {}},
  };
  for (auto& r : rows) {
    r.hs = Handshakes(r.addr, r.creds, handshakes);
    r.call = Calls(r.addr, r.creds, calls);
  }

  // Certificate verifications per second (what each handshake side does).
  auto cert = e.ratls()->current_certificate();
  auto policy = attestation::VerifyPolicy::FromTrust(e.trust(), {"bench"});
  int verifies = 0;
  auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < 2.0) {
    if (!attestation::VerifyRaTlsCertificate(cert, policy, attestation::NowUnixMs()).ok()) return 1;
    ++verifies;
  }
  double vps = verifies / std::chrono::duration<double>(Clock::now() - t0).count();

  printf("# ratls_bench: %d handshakes, %d calls per transport (loopback, %u cores)\n", handshakes,
         calls, std::thread::hardware_concurrency());
  printf("%-24s %14s %14s %12s %12s\n", "transport", "handshake p50", "handshake p99", "call p50",
         "call p99");
  for (const auto& r : rows)
    printf("%-24s %11.0f us %11.0f us %9.0f us %9.0f us\n", r.name, r.hs.p50_us, r.hs.p99_us,
           r.call.p50_us, r.call.p99_us);
  const Row& tcp = rows[0];
  const Row& tls = rows[1];
  const Row& ra = rows[2];
  printf("RA-TLS handshake p50: %.2f ms: %.2fx TCP, %.2fx TLS 1.3 (goal <= 1.3x TLS 1.3)\n",
         ra.hs.p50_us / 1000, ra.hs.p50_us / tcp.hs.p50_us, ra.hs.p50_us / tls.hs.p50_us);
  printf("RA-TLS per-call overhead p50: %+.0f us vs TCP, %+.0f us vs TLS 1.3 (goal < 100 us)\n",
         ra.call.p50_us - tcp.call.p50_us, ra.call.p50_us - tls.call.p50_us);
  printf("RA-TLS certificate verifications: %.0f /s on one core (chain + quote + manifest)\n", vps);
  server->Shutdown();
  return 0;
}
