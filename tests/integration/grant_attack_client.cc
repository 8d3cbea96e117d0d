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
// and, issue 9, a correct grant whose claim about the USER is not backed:
//   forged-principal  names another user id, with the logged-in user's
//                     real token as proof (a compromised gateway)
//   no-proof          names the logged-in user, carries no auth proof
//   rogue-proof       a token for that user signed by a key auth never
//                     published (a rogue auth's token)
//   service-principal names "service:gateway" on the public Call
// With --auth/--login it first logs in at the real cloister-auth (as the
// gateway does for a user) and sends that user's token as the proof.
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
#include "services/auth/token.h"
#include "services/common/grant_verifier.h"
#include "tests/support/gateway_sessions.h"

using namespace cloister;

namespace {

// A grant signed with this enclave's attested key, with explicit times.
testing::UserSession g_user;  // the logged-in user (empty without --login)

std::string SignedGrantBytes(attestation::Enclave& e, const google::protobuf::Message& body,
                             const std::string& method, int64_t issued, int64_t expires,
                             const std::string& request_id,
                             const std::string& audience = "exec",
                             const SecretBytes* guessed_secret = nullptr,
                             internal::AccessGrant g = testing::GrantFor(g_user)) {
  g.set_request_id(request_id);
  g.set_audience(audience);
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
  std::string trust, role, target, mode = "valid", cluster_secret, auth_addr, login;
  app.add_option("--trust", trust)->required();
  app.add_option("--role", role)->required();
  app.add_option("--target", target)->required();
  app.add_option("--cluster-secret", cluster_secret, "level 1: MAC grants with this secret");
  app.add_option("--auth", auth_addr, "cloister-auth address to log in at");
  app.add_option("--login", login, "USER:PASSWORD to log in as (the grants' user)");
  app.add_option("--mode", mode)->check(CLI::IsMember(
      {"valid", "no-grant", "wrong-method", "body-mismatch", "expired", "replay", "no-cert",
       "wrong-audience", "wrong-mac", "forged-principal", "no-proof", "rogue-proof",
       "service-principal"}));
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
  if (!login.empty()) {
    testing::GatewaySessions sessions(
        &e, grpc::CreateChannel(auth_addr, e.ChannelCredentials({"auth"})));
    const size_t colon = login.find(':');
    auto s = sessions.Login(login.substr(0, colon), login.substr(colon + 1));
    if (!s.ok()) {
      std::cerr << "login refused: " << s.error().ToString() << std::endl;
      return 2;
    }
    g_user = *std::move(s);
  }
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
  if (mode == "forged-principal" || mode == "no-proof" || mode == "rogue-proof" ||
      mode == "service-principal") {
    internal::AccessGrant g = testing::GrantFor(g_user);
    if (mode == "forged-principal") g.set_principal("u-victim-of-a-forged-grant");
    if (mode == "no-proof") g.clear_auth_proof();
    if (mode == "service-principal") {
      g.set_principal("service:gateway");
      g.clear_auth_proof();
    }
    if (mode == "rogue-proof") {
      // What a rogue auth (its own key, not the cluster's) would sign.
      auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
      auto signer = auth::TokenSigner::Create(*std::move(key));
      internal::TokenBody b;
      b.set_version(auth::kTokenVersion);
      b.set_token_id(crypto::RandomId());
      b.set_user_id(g_user.user_id);
      b.set_username(g_user.username);
      b.add_roles(api::ROLE_USER);
      b.add_roles(api::ROLE_ADMIN);
      b.set_audience(auth::kTokenAudience);
      b.set_issued_unix(now / 1000);
      b.set_expires_unix(now / 1000 + 600);
      g.set_auth_proof(*signer->Sign(b));
    }
    return call(SignedGrantBytes(e, req, kCall, now, now + 10'000, id, "exec", nullptr, g));
  }
  // replay
  std::string g = SignedGrantBytes(e, req, kCall, now, now + 10'000, id);
  int first = call(g);
  if (first != 0) return 4;
  return call(g);
}
