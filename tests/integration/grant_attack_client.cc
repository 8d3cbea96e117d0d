// Calls cloister-exec directly, as an attested enclave, with a chosen flaw
// in the access grant, so the integration test can show each refusal:
//   valid          a correct grant (must succeed)
//   no-grant       no grant metadata at all
//   wrong-method   a grant for ListFunctions presented on Call
//   body-mismatch  a grant for another request body
//   expired        a grant whose expiry has passed
//   replay         the same valid grant used twice (second must fail)
//   wrong-audience a correct grant for exec's Call, but addressed to the
//                  key vault (audience "keyvault"), presented to exec
//   no-cert        no client certificate at all (not an enclave)
//   wrong-mac      level 1: a grant MACed under a guessed (random) secret
// At level 1 the grant is MACed under --cluster-secret if given (as the
// gateway does), else sent with no MAC at all (a local attacker).
// Built twice: registered as role "gateway" and as a wrong role.
// Prints "OK <output>" or "FAILED <code> <reason> <message>".
#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "attestation/enclave.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "proto/exec.grpc.pb.h"
#include "proto/internal.pb.h"
#include "services/common/grant_mac.h"
#include "services/common/grant_verifier.h"

using namespace cloister;

namespace {

// A grant signed with this enclave's attested key, with explicit times.
std::string SignedGrantBytes(attestation::Enclave& e, const google::protobuf::Message& body,
                             const std::string& method, int64_t issued, int64_t expires,
                             const std::string& request_id,
                             const std::string& audience = "exec",
                             const SecretBytes* guessed_secret = nullptr) {
  internal::AccessGrant g;
  g.set_request_id(request_id);
  g.set_audience(audience);
  g.set_principal("u-attacker");
  g.set_method(method);
  auto d = crypto::Sha256(AsBytes(services::DeterministicSerialize(body)));
  g.set_body_sha256(d.data(), d.size());
  g.set_issued_unix_ms(issued);
  g.set_expires_unix_ms(expires);
  internal::SignedGrant sg;
  sg.set_grant(g.SerializeAsString());
  auto sig = guessed_secret != nullptr
                 ? Result<Bytes>(services::Level1GrantMac(*guessed_secret, AsBytes(sg.grant())))
                 : services::SignGrant(e, AsBytes(sg.grant()));
  if (sig.ok()) sg.set_signature(sig->data(), sig->size());
  return sg.SerializeAsString();
}

int Report(const grpc::Status& st, const api::CallResponse& resp) {
  if (st.ok()) {
    std::cout << "OK " << resp.outputs().at("data") << std::endl;
    return 0;
  }
  std::cout << "FAILED " << st.error_code() << " " << st.error_details() << " "
            << st.error_message() << std::endl;
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{std::string("grant attack client (") + CLOISTER_ATTACK_VARIANT + ")"};
  std::string trust, role, target, mode = "valid", cluster_secret;
  app.add_option("--trust", trust)->required();
  app.add_option("--role", role)->required();
  app.add_option("--target", target)->required();
  app.add_option("--cluster-secret", cluster_secret, "level 1: MAC grants with this secret");
  app.add_option("--mode", mode)->check(CLI::IsMember(
      {"valid", "no-grant", "wrong-method", "body-mismatch", "expired", "replay", "no-cert",
       "wrong-audience", "wrong-mac"}));
  CLI11_PARSE(app, argc, argv);
  InitLogging("grant-attack-client", {});

  api::CallRequest req;
  req.set_function("echo");
  (*req.mutable_inputs())["data"] = "hello";
  const std::string kCall = "/cloister.api.Exec/Call";

  if (mode == "no-cert") {
    auto trust_cfg = attestation::TrustConfig::Load(trust);
    if (!trust_cfg.ok()) return 2;
    auto creds = attestation::AttestingChannelCredentials(
        std::make_shared<attestation::TrustConfig>(*std::move(trust_cfg)), {"exec"});
    auto stub = api::Exec::NewStub(grpc::CreateChannel(target, creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    api::CallResponse resp;
    return Report(stub->Call(&ctx, req, &resp), resp);
  }

  attestation::EnclaveOptions eo;
  eo.role = role;
  eo.trust_path = trust;
  eo.cluster_secret_path = cluster_secret;
  auto enclave = attestation::Enclave::Start(eo);
  if (!enclave.ok()) {
    std::cerr << "enclave start refused: " << enclave.error().ToString() << std::endl;
    return 2;
  }
  auto& e = **enclave;
  auto stub = api::Exec::NewStub(grpc::CreateChannel(target, e.ChannelCredentials({"exec"})));
  const int64_t now = attestation::NowUnixMs();
  const std::string id = crypto::RandomId();

  auto call = [&](const std::string& grant_bytes) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!grant_bytes.empty()) ctx.AddMetadata(services::kGrantMetadataKey, grant_bytes);
    api::CallResponse resp;
    return Report(stub->Call(&ctx, req, &resp), resp);
  };

  if (mode == "valid") return call(SignedGrantBytes(e, req, kCall, now, now + 10'000, id));
  if (mode == "no-grant") return call("");
  if (mode == "wrong-method")
    return call(SignedGrantBytes(e, req, "/cloister.api.Exec/ListFunctions", now, now + 10'000, id));
  if (mode == "body-mismatch") {
    api::CallRequest other = req;
    (*other.mutable_inputs())["data"] = "something else";
    return call(SignedGrantBytes(e, other, kCall, now, now + 10'000, id));
  }
  if (mode == "wrong-mac") {
    SecretBytes guess = SecretBytes::Random(32);
    return call(SignedGrantBytes(e, req, kCall, now, now + 10'000, id, "exec", &guess));
  }
  if (mode == "wrong-audience")
    return call(SignedGrantBytes(e, req, kCall, now, now + 10'000, id, "keyvault"));
  if (mode == "expired") return call(SignedGrantBytes(e, req, kCall, now - 40'000, now - 10'000, id));
  // replay
  std::string g = SignedGrantBytes(e, req, kCall, now, now + 10'000, id);
  int first = call(g);
  if (first != 0) return 4;
  return call(g);
}
