// Captures a server's certificate through gRPC's external verifier hook;
// see peer_certificate.h. The verifier always refuses, so the handshake
// never completes and no application data is ever sent.
#include "sdk/peer_certificate.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <memory>
#include <mutex>

namespace cloister::sdk {
namespace {

struct Captured {
  std::mutex mu;
  std::string pem;      // guarded by mu
  bool called = false;  // guarded by mu
};

class CapturingVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit CapturingVerifier(std::shared_ptr<Captured> out) : out_(std::move(out)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    {
      std::lock_guard<std::mutex> lock(out_->mu);
      out_->pem.assign(pem.data(), pem.size());
      out_->called = true;
    }
    *sync_status = grpc::Status(grpc::StatusCode::CANCELLED, "certificate captured");
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<Captured> out_;
};

}  // namespace

Result<std::string> FetchPeerCertificatePem(const std::string& address,
                                            std::chrono::milliseconds timeout) {
  auto captured = std::make_shared<Captured>();
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_verify_server_certs(false);
  opts.set_check_call_host(false);
  opts.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<CapturingVerifier>(captured));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(opts), args);
  // gRPC makes I/O progress only while someone polls the channel, so wait
  // through WaitForStateChange in short steps rather than on the condvar.
  const auto deadline = std::chrono::system_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(captured->mu);
      if (captured->called) break;
    }
    auto now = std::chrono::system_clock::now();
    if (now >= deadline)
      return Unavailable("no TLS server answered at " + address + " within " +
                         std::to_string(timeout.count()) + " ms");
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    channel->WaitForStateChange(state, std::min(deadline, now + std::chrono::milliseconds(50)));
  }
  std::lock_guard<std::mutex> lock(captured->mu);
  if (captured->pem.empty())
    return PermissionDenied("the server at " + address + " presented no certificate");
  return captured->pem;
}

}  // namespace cloister::sdk
