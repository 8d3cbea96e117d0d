// AuthFollower: keeps an IdentityVerifier in step with cloister-auth — its
// token keys (fetched every key_refresh_ms; the set is REPLACED, so a key
// auth rotated in is trusted within one period and a key it dropped is
// not) and its revocations (every revocation_poll_ms). The gateway and
// every service that checks auth proofs run one; auth feeds its own from
// its core (LocalAuthSource in services/auth).
//
// The remote source calls auth over `channel`, an RA-TLS channel that
// accepts only a peer of role "auth" whose quoted configuration the
// cluster's manifest signs: that attested channel is what binds the keys
// to the genuine auth of this cluster instance (a rogue auth — another
// database, peers or cluster — never gets a handshake, so its keys never
// reach a verifier).
//
//   AuthFollower follower(&identity, RemoteAuthSource(enclave, runner.ChannelTo(addr, "auth")), {});
//   follower.Start();
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "attestation/enclave.h"
#include "services/common/identity_verifier.h"

namespace cloister::services {

struct AuthSource {
  std::function<Result<internal::TokenKeysResponse>()> token_keys;
  std::function<Result<internal::RevocationsResponse>(int64_t since_unix_ms)> revocations;
};

// Calls Auth.TokenKeys / Auth.Revocations with a grant naming this
// enclave ("service:<role>"), signed with its attested key (level 1: the
// cluster-secret MAC).
AuthSource RemoteAuthSource(attestation::Enclave* self, std::shared_ptr<grpc::Channel> auth);

struct AuthFollowerOptions {
  int64_t key_refresh_ms = 10'000;
  int64_t revocation_poll_ms = 1'000;
};

class AuthFollower {
 public:
  AuthFollower(IdentityVerifier* identity, AuthSource source, AuthFollowerOptions options);
  ~AuthFollower();  // stops the thread
  AuthFollower(const AuthFollower&) = delete;
  AuthFollower& operator=(const AuthFollower&) = delete;

  // Starts the background thread (first round at once).
  void Start();
  // One round: keys if due (or none loaded yet), then revocations.
  void PollOnce();

 private:
  IdentityVerifier* identity_;
  AuthSource source_;
  AuthFollowerOptions options_;
  std::vector<std::string> current_spkis_;  // the key set in identity_, as auth listed it
  std::chrono::steady_clock::time_point last_keys_ = std::chrono::steady_clock::time_point::min();
  int64_t revocations_since_ms_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cloister::services
