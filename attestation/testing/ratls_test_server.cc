// A small enclave server for RA-TLS integration tests: a TestService with a
// unary and a streaming method behind mutual RA-TLS. Every handler
// invocation prints "HANDLER <method> <peer role>" so tests can prove that
// refused peers never reached a handler.
#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "attestation/enclave.h"
#include "common/fs.h"
#include "common/logging.h"
#include "proto/testing.grpc.pb.h"

namespace {

using cloister::attestation::Enclave;

class TestServiceImpl final : public cloister::testing::TestService::Service {
 public:
  TestServiceImpl(Enclave* enclave, std::vector<std::string> allowed)
      : enclave_(enclave), allowed_(std::move(allowed)) {}

  grpc::Status Ping(grpc::ServerContext* ctx, const cloister::testing::PingRequest* req,
                    cloister::testing::PingResponse* resp) override {
    auto peer = enclave_->PeerOf(*ctx, allowed_);
    if (!peer.ok()) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, peer.error().ToString());
    std::cout << "HANDLER Ping " << peer->role << std::endl;
    resp->set_message("pong: " + req->message());
    resp->set_payload(req->payload());
    resp->set_peer_role(peer->role);
    auto reused = ctx->auth_context()->FindPropertyValues("ssl_session_reused");
    resp->set_session_reused(!reused.empty() && reused.front() == "true");
    resp->set_server_verifications(enclave_->ratls()->accepted_count());
    return grpc::Status::OK;
  }

  grpc::Status Count(grpc::ServerContext* ctx, const cloister::testing::CountRequest* req,
                     grpc::ServerWriter<cloister::testing::CountResponse>* writer) override {
    auto peer = enclave_->PeerOf(*ctx, allowed_);
    if (!peer.ok()) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, peer.error().ToString());
    std::cout << "HANDLER Count " << peer->role << std::endl;
    for (uint32_t i = 0; i < req->count() && i < 100000; ++i) {
      cloister::testing::CountResponse r;
      r.set_value(i);
      if (!writer->Write(r)) break;
    }
    return grpc::Status::OK;
  }

 private:
  Enclave* enclave_;
  std::vector<std::string> allowed_;
};

std::atomic<bool> g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RA-TLS test server"};
  std::string trust, role = "test-server", listen = "127.0.0.1:0", port_file;
  std::vector<std::string> allow{"test-client"};
  bool skip_self_check = false;
  int64_t refresh_s = 300;
  app.add_option("--trust", trust, "trust.toml")->required();
  app.add_option("--role", role);
  app.add_option("--listen", listen);
  app.add_option("--port-file", port_file)->required();
  app.add_option("--allow", allow, "client roles accepted");
  app.add_option("--refresh-s", refresh_s, "re-quote period");
  app.add_flag("--skip-self-check", skip_self_check);
  CLI11_PARSE(app, argc, argv);
  cloister::InitLogging("ratls-test-server", {});

  cloister::attestation::EnclaveOptions eo;
  eo.role = role;
  eo.trust_path = trust;
  eo.skip_self_check_for_testing = skip_self_check;
  eo.ratls.refresh_period_s = refresh_s;
  eo.ratls.cert_validity_s = std::max<int64_t>(3600, refresh_s * 2);
  auto enclave = Enclave::Start(eo);
  if (!enclave.ok()) {
    std::cerr << "enclave start refused: " << enclave.error().ToString() << std::endl;
    return 2;
  }
  TestServiceImpl service(enclave->get(), allow);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, (*enclave)->ServerCredentials(allow), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot listen on " << listen << std::endl;
    return 1;
  }
  if (auto st = cloister::WriteFileAtomic(port_file, std::to_string(port), 0644); !st.ok()) {
    std::cerr << st.ToString() << std::endl;
    return 1;
  }
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Graceful: in-flight calls get up to 5 s to finish.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
