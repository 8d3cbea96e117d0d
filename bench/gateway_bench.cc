// One-shot `echo` through the whole cluster (client → gateway → exec, with
// token check, policy, rate limit, audit fsync and a signed grant on every
// call) against a plain gRPC echo server in the same run (issue 3,
// "Measure"): p50/p99 latency and calls/s at 1, 8 and 64 concurrent clients.
// Starts a real cluster with the CLI in a temporary home (rate limits raised
// so the limiter does not cap the measurement).
//
//   build/bin/gateway_bench [--seconds 5] [--audit-sync always|interval]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "common/fs.h"
#include "proto/exec.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "tests/support/subprocess.h"

namespace {
using namespace cloister;
using Clock = std::chrono::steady_clock;

// The anchor: the same Call RPC answered directly, no security at all.
class PlainEcho final : public api::Exec::Service {
  grpc::Status Call(grpc::ServerContext*, const api::CallRequest* req,
                    api::CallResponse* resp) override {
    auto it = req->inputs().find("data");
    if (it != req->inputs().end()) (*resp->mutable_outputs())["data"] = it->second;
    return grpc::Status::OK;
  }
};

struct Point {
  double p50_us = 0, p99_us = 0, calls_per_s = 0;
  int errors = 0;
};

Point Drive(std::shared_ptr<grpc::Channel> ch, const std::string& token, int clients,
             double seconds) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto stub = api::Exec::NewStub(ch);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      api::CallRequest req;
      req.set_function("echo");
      (*req.mutable_inputs())["data"] = "hello cloister";
      while (!stop) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
        api::CallResponse resp;
        auto t0 = Clock::now();
        grpc::Status st = stub->Call(&ctx, req, &resp);
        lat[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!st.ok()) {
          if (errors.fetch_add(1) == 0)
            fprintf(stderr, "call failed: %d %s\n", st.error_code(), st.error_message().c_str());
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Point r;
  if (all.empty()) return r;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.calls_per_s = all.size() / seconds;
  r.errors = errors;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::string audit_sync = "always";
  for (int i = 1; i + 1 < argc; ++i) {
    if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--audit-sync")) audit_sync = argv[++i];
  }
  testing::TempDir dir;
  const std::string home = dir.path() + "/home";
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {CLOISTER_CLI_BIN, "--home", home, "--json"});
    auto r = testing::RunProcess(args, std::chrono::seconds(180));
    if (!r.ok() || r->exit_code != 0) {
      fprintf(stderr, "cloister %s failed:\n%s%s\n", args[4].c_str(), r.ok() ? r->out.c_str() : "",
              r.ok() ? r->err.c_str() : r.error().ToString().c_str());
      std::exit(1);
    }
    return nlohmann::json::parse(r->out, nullptr, false);
  };
  auto init = cli({"cluster", "init", "--gateway-port", "0"});
  const std::string gateway = init.value("gateway", "");
  const std::string password = init.value("admin_password", "");
  // Raise the limiter: this measures the pipeline, not the token bucket.
  std::string policy = *ReadFile(home + "/policy.toml");
  policy = std::regex_replace(policy, std::regex("per_principal_rps\\s*=\\s*\\d+"), "per_principal_rps = 1000000");
  policy = std::regex_replace(policy, std::regex("per_principal_burst\\s*=\\s*\\d+"), "per_principal_burst = 1000000");
  (void)WriteFileAtomic(home + "/policy.toml", policy, 0644);
  std::string cluster_toml = *ReadFile(home + "/cluster.toml");
  cluster_toml = std::regex_replace(cluster_toml, std::regex("audit_sync = \"always\""),
                                    "audit_sync = \"" + audit_sync + "\"");
  (void)WriteFileAtomic(home + "/cluster.toml", cluster_toml, 0644);
  cli({"cluster", "up"});

  auto client = sdk::Client::Connect({gateway, home + "/trust.toml"});
  if (!client.ok() || !(*client)->Login("admin", password).ok()) {
    fprintf(stderr, "login failed\n");
    cli({"cluster", "down"});
    return 1;
  }
  const std::string token = (*client)->session()->token;
  auto trust = attestation::TrustConfig::Load(home + "/trust.toml");
  auto gw_channel = grpc::CreateChannel(
      gateway, attestation::AttestingChannelCredentials(
                   std::make_shared<attestation::TrustConfig>(*std::move(trust)), {"gateway"}));

  PlainEcho plain;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&plain);
  auto server = b.BuildAndStart();
  auto plain_channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());

  printf("# gateway_bench: echo, %.0f s per point, audit_sync=%s, loopback, %u cores (client,\n"
         "# gateway, auth, exec, platform and the plain server all share them)\n",
         seconds, audit_sync.c_str(), std::thread::hardware_concurrency());
  printf("%8s | %10s %10s %10s | %10s %10s %10s | %8s\n", "clients", "plain p50", "plain p99",
         "plain c/s", "cloister", "p99", "c/s", "ratio");
  for (int c : {1, 8, 64}) {
    Point p = Drive(plain_channel, "", c, seconds);
    Point g = Drive(gw_channel, token, c, seconds);
    printf("%8d | %7.0f us %7.0f us %10.0f | %7.0f us %7.0f us %10.0f | %7.1f%%%s\n", c, p.p50_us,
           p.p99_us, p.calls_per_s, g.p50_us, g.p99_us, g.calls_per_s,
           100.0 * g.calls_per_s / std::max(1.0, p.calls_per_s),
           g.errors ? " (errors!)" : "");
  }
  printf("goal: cloister p50 < 1 ms on loopback; throughput >= 50%% of plain gRPC echo\n");
  server->Shutdown();
  cli({"cluster", "down"});
  return 0;
}
