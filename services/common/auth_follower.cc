// Follows auth's token keys and revocations; see auth_follower.h.
#include "services/common/auth_follower.h"

#include "common/grpc_status.h"
#include "common/logging.h"
#include "proto/auth.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::services {

AuthSource RemoteAuthSource(attestation::Enclave* self, std::shared_ptr<grpc::Channel> auth) {
  auto stub = std::shared_ptr<api::Auth::Stub>(api::Auth::NewStub(auth));
  const std::string svc = std::string("/") + api::Auth::service_full_name() + "/";
  auto call = [self, svc](grpc::ClientContext& c, const google::protobuf::Message& req,
                          const std::string& method) {
    internal::AccessGrant grant;
    grant.set_principal("service:" + self->role());
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    return AttachGrant(c, *self, "auth", req, svc + method, grant);
  };
  AuthSource s;
  s.token_keys = [stub, call]() -> Result<internal::TokenKeysResponse> {
    internal::TokenKeysRequest req;
    internal::TokenKeysResponse resp;
    grpc::ClientContext c;
    CLOISTER_RETURN_IF_ERROR(call(c, req, "TokenKeys"));
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(stub->TokenKeys(&c, req, &resp)));
    return resp;
  };
  s.revocations = [stub, call](int64_t since) -> Result<internal::RevocationsResponse> {
    internal::RevocationsRequest req;
    req.set_since_unix_ms(since);
    internal::RevocationsResponse resp;
    grpc::ClientContext c;
    CLOISTER_RETURN_IF_ERROR(call(c, req, "Revocations"));
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(stub->Revocations(&c, req, &resp)));
    return resp;
  };
  return s;
}

AuthFollower::AuthFollower(IdentityVerifier* identity, AuthSource source,
                           AuthFollowerOptions options)
    : identity_(identity), source_(std::move(source)), options_(options) {}

AuthFollower::~AuthFollower() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AuthFollower::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      PollOnce();
      for (int64_t i = 0; i < options_.revocation_poll_ms / 50 && !stop_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

void AuthFollower::PollOnce() {
  const auto now = std::chrono::steady_clock::now();
  if (!identity_->has_keys() ||
      now - last_keys_ >= std::chrono::milliseconds(options_.key_refresh_ms)) {
    auto resp = source_.token_keys();
    if (resp.ok()) {
      last_keys_ = now;
      std::vector<crypto::PublicKey> keys;
      std::vector<std::string> spkis;
      for (const auto& spki : resp->ed25519_spki()) {
        auto k = crypto::PublicKey::FromSpkiDer(AsBytes(spki));
        if (k.ok() && k->type() == crypto::KeyType::kEd25519) {
          keys.push_back(*k);
          spkis.push_back(spki);
        }
      }
      // Only a changed set resets the cache of verified tokens.
      if (!keys.empty() && spkis != current_spkis_) {
        identity_->SetKeys(std::move(keys));
        LOG_INFO("token keys loaded from cloister-auth",
                 {{"keys", static_cast<int64_t>(spkis.size())},
                  {"first_load", current_spkis_.empty()}});
        current_spkis_ = std::move(spkis);
      }
    } else {
      LOG_WARN("cannot fetch token keys from cloister-auth", {{"error", resp.error().ToString()}});
    }
  }
  if (identity_->has_keys()) {
    auto resp = source_.revocations(revocations_since_ms_);
    if (resp.ok()) {
      for (const auto& r : resp->revocations()) identity_->AddRevocation(r);
      // Overlap by a second so a revocation committed during the poll is not missed.
      revocations_since_ms_ = std::max<int64_t>(0, resp->now_unix_ms() - 1000);
    }
  }
}

}  // namespace cloister::services
